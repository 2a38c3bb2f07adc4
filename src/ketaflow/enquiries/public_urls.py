"""The clinic's public pages (no sign-in): /c/<organization slug>/..."""

from django.urls import path

from . import public_views

app_name = "public"
urlpatterns = [
    path("<slug:slug>/", public_views.practice_home, name="home"),
    path("<slug:slug>/self-screen/", public_views.self_screen, name="self_screen"),
    path("<slug:slug>/self-screen/contact/", public_views.leave_details, name="leave_details"),
]

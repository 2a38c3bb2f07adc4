"""The clinic's public pages (no sign-in): /c/<organization slug>/..."""

from django.urls import path  # noqa: F401

app_name = "public"
urlpatterns: list = []

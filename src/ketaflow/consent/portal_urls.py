"""The patient's consent pages, under /consent/p/ (the prefix portal logins may open)."""

from django.urls import path

from . import portal_views

app_name = "p"
urlpatterns = [
    path("", portal_views.consent_list, name="list"),
    path("<uuid:consent_id>/", portal_views.sign, name="sign"),
    path("<uuid:consent_id>/pdf/", portal_views.pdf, name="pdf"),
    path("<uuid:consent_id>/withdraw/", portal_views.withdraw, name="withdraw"),
]

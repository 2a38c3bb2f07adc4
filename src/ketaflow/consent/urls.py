"""Consent, mounted at /consent/: staff pages, and the patient's pages under /consent/p/ (namespace
"consent:p"), the one prefix here that portal logins may open."""

from django.urls import include, path

from . import template_views, views

app_name = "consent"
urlpatterns = [
    path("p/", include("ketaflow.consent.portal_urls")),
    path("templates/", template_views.template_list, name="templates"),
    path("templates/versions/<uuid:consent_template_id>/", template_views.version_detail,
         name="template_version"),
    path("templates/<slug:route>/<slug:setting>/", template_views.history, name="template_history"),
    path("templates/<slug:route>/<slug:setting>/new/", template_views.new_version, name="template_new"),
    path("patients/<uuid:patient_id>/request/", views.request_consent, name="request"),
    path("<uuid:consent_id>/", views.detail, name="detail"),
    path("<uuid:consent_id>/countersign/", views.countersign, name="countersign"),
    path("<uuid:consent_id>/withdraw/", views.withdraw, name="withdraw"),
    path("<uuid:consent_id>/pdf/", views.pdf, name="pdf"),
    path("<uuid:consent_id>/tablet/", views.tablet, name="tablet"),
    path("<uuid:consent_id>/tablet/done/", views.tablet_done, name="tablet_done"),
]

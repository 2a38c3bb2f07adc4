from django.urls import path

from . import chart_views, record_views, views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_create, name="create"),
    path("<uuid:patient_id>/", chart_views.chart, name="chart"),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<uuid:patient_id>/archive/", views.patient_archive, name="archive"),
    path("<uuid:patient_id>/restore/", views.patient_restore, name="restore"),
    path("<uuid:patient_id>/conditions/", record_views.condition_add, name="condition_add"),
    path("<uuid:patient_id>/conditions/<uuid:condition_id>/status/", record_views.condition_status,
         name="condition_status"),
    path("<uuid:patient_id>/allergies/", record_views.allergy_add, name="allergy_add"),
    path("<uuid:patient_id>/allergies/<uuid:allergy_id>/deactivate/", record_views.allergy_deactivate,
         name="allergy_deactivate"),
    path("<uuid:patient_id>/no-known-allergies/", record_views.no_known_allergies,
         name="no_known_allergies"),
    path("<uuid:patient_id>/alerts/", record_views.alert_add, name="alert_add"),
    path("<uuid:patient_id>/alerts/<uuid:alert_id>/resolve/", record_views.alert_resolve,
         name="alert_resolve"),
    # Last, so the fixed segments above win over a tab slug (chart.RESERVED_SLUGS keeps them apart).
    path("<uuid:patient_id>/<slug:tab>/", chart_views.chart, name="tab"),
]

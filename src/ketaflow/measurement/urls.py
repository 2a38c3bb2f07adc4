from django.urls import path

from . import chart_views, settings_views, worklist_views

app_name = "measures"
urlpatterns = [
    path("", worklist_views.worklist, name="worklist"),
    path("alerts/<uuid:safety_alert_id>/", worklist_views.alert_detail, name="alert"),
    path("alerts/<uuid:safety_alert_id>/acknowledge/", worklist_views.alert_acknowledge,
         name="alert_acknowledge"),
    path("settings/", settings_views.measurement_settings, name="settings"),
    path("patients/<uuid:patient_id>/enter/", chart_views.enter_response, name="enter"),
    path("patients/<uuid:patient_id>/plan/", chart_views.plan_update, name="plan"),
    path("patients/<uuid:patient_id>/treatments/", chart_views.treatment_add, name="treatment_add"),
    path("patients/<uuid:patient_id>/link/", chart_views.link_send, name="link"),
    path("responses/<uuid:response_id>/", chart_views.response_detail, name="response"),
    path("responses/<uuid:response_id>/entered-in-error/", chart_views.entered_in_error,
         name="entered_in_error"),
]

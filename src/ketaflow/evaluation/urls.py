from django.urls import path

from . import views

app_name = "evaluation"
urlpatterns = [
    path("patients/<uuid:patient_id>/start/", views.start, name="start"),
    path("patients/<uuid:patient_id>/vitals/", views.vitals_add, name="vitals"),
    path("patients/<uuid:patient_id>/medications/", views.medication_add, name="medications"),
    path("patients/<uuid:patient_id>/medications/<uuid:medication_id>/stop/", views.medication_stop,
         name="medication_stop"),
    path("patients/<uuid:patient_id>/facts/", views.facts_save, name="facts"),
    path("patients/<uuid:patient_id>/trials/", views.trials_save, name="trials"),
    path("patients/<uuid:patient_id>/labs/", views.labs_save, name="labs"),
    path("patients/<uuid:patient_id>/notes/", views.notes_save, name="notes"),
    path("patients/<uuid:patient_id>/complete/", views.complete, name="complete"),
]

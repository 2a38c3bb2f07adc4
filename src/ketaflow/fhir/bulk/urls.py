"""Bulk Data URLs, relative to the FHIR base (included under `fhir/` by ketaflow.fhir.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("$export", views.system_export, name="fhir-export-system"),
    path("Patient/$export", views.patient_export, name="fhir-export-patient"),
    path("Group/<str:group_id>/$export", views.group_export, name="fhir-export-group"),
    path("bulk/status/<uuid:job_id>", views.export_status, name="fhir-bulk-status"),
    path("bulk/files/<uuid:job_id>/<str:name>", views.export_file, name="fhir-bulk-file"),
]

"""URLs of the Data exchange (FHIR) staff page, mounted under /settings/fhir/."""

from django.urls import path

from . import page_exports, page_imports, pages

app_name = "fhir_pages"
urlpatterns = [
    path("", pages.data_exchange, name="page"),
    path("exports/", page_exports.start_export, name="export"),
    path("exports/recent/", pages.jobs_panel, name="jobs"),
    path("exports/<uuid:job_id>/delete/", page_exports.delete_export, name="delete"),
    path("exports/<uuid:job_id>/files/<str:file_name>", page_exports.download, name="download"),
    path("import/", page_imports.upload, name="import"),
]

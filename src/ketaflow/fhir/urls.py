"""URLs of the FHIR R4 REST API and its bulk $export, included under /fhir/."""

from __future__ import annotations

from django.urls import re_path

from . import views
from .bulk import urls as bulk_urls

app_name = "fhir"

TYPE = r"(?P<resource_type>[A-Z][A-Za-z]{1,39})"
ID = r"(?P<resource_id>[A-Za-z0-9\-.]{1,64})"

urlpatterns = [
    re_path(r"^metadata$", views.metadata, name="metadata"),
    re_path(r"^$", views.system, name="system"),
    re_path(rf"^{TYPE}$", views.type_level, name="type"),
    re_path(rf"^{TYPE}/_search$", views.search_post, name="search"),
    re_path(rf"^{TYPE}/{ID}$", views.instance, name="instance"),
    re_path(rf"^{TYPE}/{ID}/_history/(?P<version_id>[0-9]{{1,9}})$", views.version_read, name="version"),
    *bulk_urls.urlpatterns,
]

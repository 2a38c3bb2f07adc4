from django.contrib import admin
from django.urls import include, path

from ketaflow.web.views import healthz

urlpatterns = [
    path("", include("ketaflow.web.urls")),
    path("account/", include("ketaflow.accounts.urls")),
    path("patients/", include("ketaflow.patients.urls")),
    path("staff/", include("ketaflow.accounts.staff_urls")),
    path("settings/", include("ketaflow.clinics.urls")),
    path("audit/", include("ketaflow.audit.urls")),
    path("api/", include("ketaflow.api.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]

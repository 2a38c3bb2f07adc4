from django.contrib import admin
from django.urls import include, path

from ketaflow.web.views import healthz

urlpatterns = [
    path("", include("ketaflow.web.urls")),
    path("account/", include("ketaflow.accounts.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]

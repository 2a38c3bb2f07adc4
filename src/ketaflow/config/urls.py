from django.contrib import admin
from django.urls import include, path

from ketaflow.fhir import views as fhir_views
from ketaflow.measurement.pdf_views import progress_summary_pdf
from ketaflow.web.views import healthz

urlpatterns = [
    path("", include("ketaflow.web.urls")),
    path("account/", include("ketaflow.accounts.urls")),
    path("patients/", include("ketaflow.patients.urls")),
    # Before the measures/ include, so both resolve.
    path("measures/patients/<uuid:patient_id>/summary.pdf", progress_summary_pdf,
         name="progress_summary_pdf"),
    path("q/", include("ketaflow.measurement.patient_urls")),
    path("portal/", include("ketaflow.portal.urls")),
    path("c/", include("ketaflow.enquiries.public_urls")),
    path("leads/", include("ketaflow.enquiries.urls")),
    path("intake/", include("ketaflow.intake.urls")),
    path("evaluation/", include("ketaflow.evaluation.urls")),
    path("eligibility/", include("ketaflow.eligibility.urls")),
    path("consent/", include("ketaflow.consent.urls")),
    path("plans/", include("ketaflow.plans.urls")),
    path("schedule/", include("ketaflow.scheduling.urls")),
    path("billing/", include("ketaflow.billing.urls")),
    path("sessions/", include("ketaflow.sessions.urls")),
    path("ledger/", include("ketaflow.ledger.urls")),
    path("staff/", include("ketaflow.accounts.staff_urls")),
    path("settings/fhir/", include("ketaflow.fhir.page_urls")),
    path("settings/", include("ketaflow.clinics.urls")),
    path("audit/", include("ketaflow.audit.urls")),
    path("measures/", include("ketaflow.measurement.urls")),
    path("api/", include("ketaflow.api.urls")),
    path("fhir", fhir_views.system),  # a transaction Bundle POSTed to the base URL without a slash
    path("fhir/", include("ketaflow.fhir.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]

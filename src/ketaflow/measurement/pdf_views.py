"""The progress summary PDF download (staff with clinical view)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ketaflow.accounts.roles import Permission
from ketaflow.web.access import staff_view

from .pdf import progress_summary


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def progress_summary_pdf(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    document = progress_summary(request.actor, patient_id)  # type: ignore[attr-defined]
    response = HttpResponse(document.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response

"""The one NinjaAPI: version 1 under /api/v1/, docs at /api/docs, schema at /api/openapi.json."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.operation import Operation

from . import (
    audit,
    billing,
    clinics,
    consent,
    eligibility,
    enquiries,
    evaluation,
    intake,
    ledger,
    me,
    measures,
    patients,
    plans,
    records,
    rems,
    scheduling,
    sessions,
    staff,
)
from .auth import BearerToken, StaffSession
from .docs import SelfHostedSwagger
from .errors import install_error_handlers

DESCRIPTION = """The JSON API of ketaflow.

Authenticate with `Authorization: Bearer <token>` (issued per staff member) or, from the browser,
with the signed-in session (which needs the verified second factor, and the CSRF token on requests
that change something). Every response is scoped to your organization; a record of another
organization is answered exactly like a missing one (404). Errors always have the shape
`{"errors": [{"field": "date_of_birth", "message": "..."}]}`, `field` being null when the error is
not about one field.
"""


class KetaflowAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        return str(operation.view_func.__name__)


api = KetaflowAPI(
    title="ketaflow API",
    version="1",
    description=DESCRIPTION,
    auth=[BearerToken(), StaffSession()],
    docs=SelfHostedSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api-v1",
)
install_error_handlers(api)
AREAS = (
    me, patients, records, measures, enquiries, intake, evaluation, eligibility, consent, plans, scheduling,
    billing, staff, clinics, audit, sessions, rems, ledger,
)
for area in AREAS:
    api.add_router("/v1", area.router)

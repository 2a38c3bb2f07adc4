"""Measurement-based care: instruments, questionnaire responses, progress, measurement plans, treatment
dates, single-use questionnaire links, safety alerts and the due list.

Reading anything about a patient needs the clinical permission (front desk gets 403, and no read is
recorded), except issuing a link and the due list, which front desk runs. Every read of patient data
is audited before it is returned: a patient's lists and progress through `open_patient` with the
purpose, one response or alert as a READ of that record, and the alert and due lists as a LIST
naming the rows shown. A response is scored, stored whole and checked for safety answers by
`responses.record_response`, the one path every surface shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.instruments import Instrument, builtin_instruments
from ketaflow.measurement import library, links, progress, responses, safety, schedule, worklists
from ketaflow.measurement.models import (
    MeasureDue,
    MeasurementPlan,
    QuestionnaireResponse,
    SafetyAlert,
    ScoreObservation,
)
from ketaflow.paging import paginate
from ketaflow.patients import services as registry
from ketaflow.patients.models import Patient
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from .auth import actor_of
from .errors import error_body
from .measure_schemas import (
    AcknowledgeIn,
    DuePage,
    DueQuery,
    EnteredInErrorIn,
    InstrumentId,
    InstrumentOut,
    InstrumentsOut,
    LinkIn,
    LinkOut,
    PlanIn,
    PlanOut,
    ProgressOut,
    RecordedResponseOut,
    ResponseId,
    ResponseIn,
    ResponseOut,
    ResponsePage,
    ResponseQuery,
    SafetyAlertId,
    SafetyAlertOut,
    SafetyAlertPage,
    SafetyAlertQuery,
    TreatmentIn,
    TreatmentOut,
)
from .pagination import page_body, refuse_unknown_query
from .schemas import PatientId
from .schemas import responses as documented

router = Router(tags=["measures"])


# Bodies -------------------------------------------------------------------------------------------


def _instrument_body(instrument: Instrument, *, full: bool) -> dict[str, Any]:
    low, high = instrument.total_range
    body: dict[str, Any] = {
        "id": instrument.id,
        "version": instrument.version,
        "name": instrument.name,
        "short_name": instrument.short_name,
        "respondent": instrument.respondent,
        "scoring_method": instrument.scoring.method,
        "total_range": {"min": low, "max": high},
        "bands": [{"min": b.low, "max": b.high, "label": b.label} for b in instrument.bands],
        "band_source": instrument.band_source,
        "safety": [
            {"flag": r.flag, "message": r.message, "item": r.item, "above": r.above, "levels": list(r.levels)}
            for r in instrument.safety
        ],
        "remission": instrument.remission,
        "loinc_panel": instrument.loinc_panel,
        "loinc_total": instrument.loinc_total,
        "licence": instrument.licence,
        "attribution": instrument.attribution,
        "source": instrument.source,
        "ships_text": instrument.ships_text,
        "built_in": builtin_instruments().get(instrument.id) is instrument,
    }
    if full:
        # A licensed scale's wording stays with the clinic that holds the licence.
        text = instrument.ships_text
        body["instructions"] = instrument.instructions if text else None
        body["subscales"] = {name: list(items) for name, items in instrument.scoring.clusters.items()}
        body["items"] = [
            {
                "id": item.id,
                "text": item.text if text else None,
                "loinc": item.loinc,
                "scored": item.scored,
                "required": item.required,
                "ask_if": item.ask_if,
                "options": list(item.options),
            }
            for item in instrument.items
        ]
    return body


def _instrument_ref(response: QuestionnaireResponse, known: Mapping[str, Instrument]) -> dict[str, str]:
    instrument = known.get(response.instrument_id)
    short_name = instrument.short_name if instrument else response.instrument_id
    return {"id": response.instrument_id, "version": response.instrument_version, "short_name": short_name}


def _response_body(response: QuestionnaireResponse, known: Mapping[str, Instrument]) -> dict[str, Any]:
    """The response with its answers and the score stored with it (total, band, subscales)."""
    total = None
    subscores: dict[str, float] = {}
    for observation in response.observations.all():
        if observation.kind == ScoreObservation.Kind.TOTAL:
            total = observation
        else:
            subscores[observation.key] = observation.value
    return {
        "id": response.pk,
        "patient_id": response.patient_id,
        "instrument": _instrument_ref(response, known),
        "authored_at": response.authored_at,
        "recorded_at": response.recorded_at,
        "source": response.source,
        "status": response.status,
        "answers": response.answers,
        "score": {
            "total": total.value if total else None,
            "band": (total.band or None) if total else None,
            "subscores": subscores,
            "findings": list(response.findings),
            "safety_flags": list(response.safety_flags),
        },
    }


def _person(patient: Patient) -> dict[str, Any]:
    return {"id": patient.pk, "mrn": patient.mrn, "name": patient.display_name}


def _staff(staff: StaffMember | None) -> dict[str, Any] | None:
    return {"id": staff.pk, "name": staff.display_name} if staff is not None else None


def _alert_body(alert: SafetyAlert) -> dict[str, Any]:
    by = alert.acknowledged_by
    return {
        "id": alert.pk,
        "patient": _person(alert.patient),
        "instrument_id": alert.instrument_id,
        "response_id": alert.response_id,
        "flags": alert.flags,
        "raised_at": alert.raised_at,
        "status": alert.status,
        "assigned_to": _staff(alert.assigned_to),
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": (by.get_full_name() or by.username) if by is not None else None,
        "action": alert.action,
        "action_note": alert.action_note,
    }


def _plan_body(patient: Patient, plan: MeasurementPlan | None) -> dict[str, Any]:
    due = MeasureDue.objects.for_organization(patient.organization_id).filter(
        patient=patient, status=MeasureDue.Status.OPEN
    )
    return {
        "patient_id": patient.pk,
        "is_set": plan is not None,
        "stage": plan.stage if plan else None,
        "stage_started_at": plan.stage_started_at if plan else None,
        "responsible_clinician": _staff(plan.responsible_clinician) if plan else None,
        "instruments": list(plan.instruments) if plan else [],
        "instruments_planned": list(schedule.instruments_planned(patient, plan)) if plan else [],
        "updated_at": plan.updated_at if plan else None,
        "due": list(due.order_by("due_at", "instrument_id")),
    }


def _progress_body(patient: Patient) -> dict[str, Any]:
    found = []
    for entry in progress.patient_progress(patient):
        outcome, rules, instrument = entry.outcome, entry.outcome.rules, entry.instrument
        found.append(
            {
                "instrument": {
                    "id": instrument.id,
                    "version": instrument.version,
                    "short_name": instrument.short_name,
                },
                "points": entry.points,
                "baseline": _measurement(outcome.baseline),
                "latest": _measurement(outcome.latest),
                "change": outcome.change,
                "percent_change": outcome.percent_change,
                "response_threshold": outcome.response_threshold,
                "response": outcome.response,
                "remission": outcome.remission,
                "relapse": outcome.relapse,
                "non_response": outcome.non_response,
                "treatments_given": outcome.treatments_given,
                "reasons": list(outcome.reasons),
                "rules": {
                    "response_reduction_percent": round(rules.response_reduction * 100, 2),
                    "remission_at_most": rules.remission_at_most,
                    "relapse_consecutive": rules.relapse_consecutive,
                    "non_response_after": rules.non_response_after,
                    "sources": dict(rules.sources),
                },
            }
        )
    return {"patient_id": patient.pk, "instruments": found}


def _measurement(measurement: Any) -> dict[str, Any] | None:
    return {"at": measurement.taken_at, "value": measurement.total} if measurement is not None else None


# Reads that the services do not audit themselves --------------------------------------------------


def _clinical(request: HttpRequest, *queries: Any) -> Actor:
    """The actor, refused before anything is read (so a refused read leaves no audit row)."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    refuse_unknown_query(request, *queries)
    return actor


def _renamed(exc: ValidationFailed, names: Mapping[str, str]) -> ValidationFailed:
    """The service's errors with its field names changed to the names this API's body uses."""
    return ValidationFailed(FieldError(names.get(e.field or "", e.field), e.message) for e in exc.errors)


# Instruments --------------------------------------------------------------------------------------


@router.get("/instruments", response=documented(200, InstrumentsOut))
def list_instruments(request: HttpRequest) -> Any:
    """Every instrument your organization can administer: the built-ins and any you loaded."""
    known = library.instruments_for(actor_of(request).organization_id)
    return {"items": [_instrument_body(i, full=False) for i in known.values()]}


@router.get("/instruments/{instrument_id}", response=documented(200, InstrumentOut))
def get_instrument(request: HttpRequest, instrument_id: InstrumentId) -> Any:
    """One instrument with its items and answer options (no item wording for a licensed scale)."""
    instrument = library.instrument_for(actor_of(request).organization_id, instrument_id)
    return _instrument_body(instrument, full=True)


# Responses ----------------------------------------------------------------------------------------


@router.post("/patients/{patient_id}/responses", response=documented(201, RecordedResponseOut))
def record_questionnaire_response(request: HttpRequest, patient_id: PatientId, payload: ResponseIn) -> Any:
    """Score and store a complete response. A bad or missing answer is refused with 400 naming the
    item (`answers.9`) and nothing is stored; a safety answer raises an alert for the clinician."""
    actor = actor_of(request)
    try:
        recorded = responses.record_response(
            actor,
            patient_id,
            payload.instrument_id,
            payload.answers,
            authored_at=payload.authored_at,
            source=QuestionnaireResponse.Source.API,
        )
    except NotFound as exc:
        if str(exc) != "instrument":  # the instrument is looked up before the patient
            raise
        message = "Unknown instrument: see GET /api/v1/instruments."
        return Status(400, error_body([FieldError("instrument_id", message)]))
    except ValidationFailed as exc:
        # Answers that cannot be scored are a bad request (issue 3), not a merely unprocessable one.
        return Status(400, error_body(exc.errors))
    body = _response_body(recorded.response, library.instruments_for(actor.organization_id))
    body["safety_alert_id"] = recorded.alert.pk if recorded.alert else None
    return Status(201, body)


@router.get("/patients/{patient_id}/responses", response=documented(200, ResponsePage))
def list_responses(request: HttpRequest, patient_id: PatientId, query: Query[ResponseQuery]) -> Any:
    """A patient's questionnaire responses, newest first; the read is audited."""
    actor = _clinical(request, ResponseQuery)
    patient = registry.open_patient(actor, patient_id, purpose="responses")
    rows = QuestionnaireResponse.objects.for_organization(actor.organization_id).filter(patient=patient)
    if query.instrument_id:
        rows = rows.filter(instrument_id=query.instrument_id)
    if not query.include_entered_in_error:
        rows = rows.filter(status=QuestionnaireResponse.Status.COMPLETED)
    rows = rows.prefetch_related("observations").order_by("-authored_at", "id")
    page = paginate(rows, query.page, query.page_size)
    known = library.instruments_for(actor.organization_id)
    body = page_body(request, page)
    body["items"] = [_response_body(r, known) for r in page.items]
    return body


@router.get("/responses/{response_id}", response=documented(200, ResponseOut))
def get_response(request: HttpRequest, response_id: ResponseId) -> Any:
    actor = _clinical(request)
    found = responses.open_response(actor, response_id)
    return _response_body(found, library.instruments_for(actor.organization_id))


@router.post("/responses/{response_id}/entered-in-error", response=documented(200, ResponseOut))
def mark_response_entered_in_error(
    request: HttpRequest, response_id: ResponseId, payload: EnteredInErrorIn
) -> Any:
    """Withdraw a response recorded by mistake: it leaves progress and outcomes, and stays on file."""
    actor = actor_of(request)
    changed = responses.mark_entered_in_error(actor, response_id, payload.reason)
    scope = QuestionnaireResponse.objects.for_organization(actor.organization_id)
    found = scope.prefetch_related("observations").get(pk=changed.pk)
    return _response_body(found, library.instruments_for(actor.organization_id))


# Progress, plan, treatments, links ----------------------------------------------------------------


@router.get("/patients/{patient_id}/progress", response=documented(200, ProgressOut))
def get_progress(request: HttpRequest, patient_id: PatientId) -> Any:
    """Scores over time per instrument and the outcome judgements, each with its reason and rule."""
    actor = _clinical(request)
    return _progress_body(registry.open_patient(actor, patient_id, purpose="progress"))


@router.get("/patients/{patient_id}/measurement-plan", response=documented(200, PlanOut))
def get_measurement_plan(request: HttpRequest, patient_id: PatientId) -> Any:
    """The plan and the open due rows; `is_set` is false (and the rest empty) until a plan is saved."""
    actor = _clinical(request)
    patient = registry.open_patient(actor, patient_id, purpose="measurement plan")
    return _plan_body(patient, schedule.plan_for(patient))


@router.put("/patients/{patient_id}/measurement-plan", response=documented(200, PlanOut))
def set_measurement_plan(request: HttpRequest, patient_id: PatientId, payload: PlanIn) -> Any:
    """Create or replace the plan; a new stage restarts its cadence now and the due rows follow."""
    plan = schedule.set_plan(
        actor_of(request),
        patient_id,
        stage=payload.stage,
        responsible_clinician_id=payload.responsible_clinician_id,
        instruments=payload.instruments,
    )
    return _plan_body(plan.patient, plan)


@router.post("/patients/{patient_id}/treatments", response=documented(201, TreatmentOut))
def record_treatment(request: HttpRequest, patient_id: PatientId, payload: TreatmentIn) -> Any:
    """A treatment date (given or scheduled): the baseline cut-off and the count behind non-response."""
    treatment = schedule.record_treatment(
        actor_of(request),
        patient_id,
        occurred_at=payload.occurred_at,
        status=payload.status,
        description=payload.description,
    )
    return Status(201, treatment)


@router.post("/patients/{patient_id}/questionnaire-links", response=documented(201, LinkOut))
def issue_questionnaire_link(request: HttpRequest, patient_id: PatientId, payload: LinkIn) -> Any:
    """A single-use link for the patient to answer without signing in. The URL is in this response
    only: ketaflow keeps its hash, so it cannot be shown again (issue a new one instead)."""
    try:
        issued = links.issue_link(
            actor_of(request), patient_id, payload.instrument_ids, channel=payload.channel
        )
    except ValidationFailed as exc:
        raise _renamed(exc, {"instruments": "instrument_ids"}) from exc
    return Status(
        201,
        {
            "url": f"{settings.KETAFLOW_BASE_URL}{issued.path}",
            "expires_at": issued.invitation.expires_at,
            "instruments": issued.invitation.instruments,
        },
    )


# Safety alerts and the due list -------------------------------------------------------------------


@router.get("/safety-alerts", response=documented(200, SafetyAlertPage))
def list_safety_alerts(request: HttpRequest, query: Query[SafetyAlertQuery]) -> Any:
    """Safety alerts, newest first; the audit entry names the alerts and patients shown."""
    actor = _clinical(request, SafetyAlertQuery)
    rows = safety.alerts_for(actor)
    if query.status:
        rows = rows.filter(status=query.status)
    page = worklists.audited_page(actor, rows.order_by("-raised_at", "id"), "SafetyAlert",
                                  page=query.page, page_size=query.page_size)
    body = page_body(request, page)
    body["items"] = [_alert_body(alert) for alert in page.items]
    return body


@router.get("/safety-alerts/{safety_alert_id}", response=documented(200, SafetyAlertOut))
def get_safety_alert(request: HttpRequest, safety_alert_id: SafetyAlertId) -> Any:
    return _alert_body(safety.open_alert(actor_of(request), safety_alert_id))


@router.post("/safety-alerts/{safety_alert_id}/acknowledge", response=documented(200, SafetyAlertOut))
def acknowledge_safety_alert(
    request: HttpRequest, safety_alert_id: SafetyAlertId, payload: AcknowledgeIn
) -> Any:
    """Close the alert with the action taken and a note; both are required."""
    alert = safety.acknowledge_alert(
        actor_of(request), safety_alert_id, action=payload.action, note=payload.note
    )
    return _alert_body(alert)


@router.get("/measures/due", response=documented(200, DuePage))
def list_due_measures(request: HttpRequest, query: Query[DueQuery]) -> Any:
    """Questionnaires due now (or, with overdue=true, overdue), earliest first."""
    actor = actor_of(request)
    refuse_unknown_query(request, DueQuery)
    rows = schedule.due_measures(actor, overdue=query.overdue, clinic_id=query.clinic_id)
    page = worklists.audited_page(actor, rows.order_by("due_at", "id"), "MeasureDue",
                                  page=query.page, page_size=query.page_size,
                                  list="overdue" if query.overdue else "due")
    known = library.instruments_for(actor.organization_id)
    body = page_body(request, page)
    body["items"] = [
        {
            "id": row.pk,
            "patient": _person(row.patient),
            "instrument_id": row.instrument_id,
            "instrument": known[row.instrument_id].short_name if row.instrument_id in known else "",
            "due_at": row.due_at,
            "reason": row.reason,
        }
        for row in page.items
    ]
    return body

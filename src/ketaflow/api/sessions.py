"""Treatment sessions: the JSON API of the chairside record.

Sessions (paginated, filtered by date and status); check-in; the whole session as the
chairside page shows it (rules with their source, readiness, dose, events, vital signs, alerts,
side effects, rescue doses, scores, Aldrete, discharge readiness, the note); and one endpoint per
step. `POST /sessions/{id}/vitals/batch` is the monitor feed: every reading is validated first
and a bad one refuses the whole batch, named `readings[i].field`. Reads need clinical view and are
audited; charting needs CHART_SESSIONS; overrides, signing and amending need SIGN_DOSES.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from ninja.responses import Status

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic
from ketaflow.paging import paginate
from ketaflow.sessions import checkin, doses, effects, notes, recovery, scores, vitals
from ketaflow.sessions.access import open_session, sessions_of
from ketaflow.sessions.models import DosePreparation, VitalAlert
from ketaflow.validation import NotFound, ValidationFailed

from . import session_bodies as bodies
from .auth import actor_of
from .body_ids import refused_on_field
from .pagination import page_body, refuse_unknown_query
from .schemas import responses as documented
from .session_schemas import (
    SESSION_STATUSES,
    AldreteIn,
    AlertOut,
    AlertResponseIn,
    AmendmentIn,
    AmendmentOut,
    BatchIn,
    BatchOut,
    CheckInIn,
    ChecklistIn,
    DischargeIn,
    DischargeOut,
    EventIn,
    EventOut,
    PreparationId,
    PreparationIn,
    PreparationOut,
    ReadinessOut,
    ReasonIn,
    RescueDoseIn,
    RescueOut,
    ScoreIn,
    ScoreOut,
    SessionId,
    SessionOut,
    SessionPage,
    SessionQuery,
    SideEffectIn,
    SideEffectOut,
    SignIn,
    VitalAlertId,
    VitalsOut,
    VitalsSetIn,
)

router = Router(tags=["Treatment sessions"])
STOCK = {"lot": "lot_id", "storage location": "location_id"}


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _of_session(model: Any, actor: Actor, session_id: str, row_id: str, what: str) -> Any:
    """The `model` row (a preparation, an alert) with `row_id` of the session in the path, or
    NotFound: a malformed id, another session's row or another organization's are all missing."""
    try:
        session_key = uuid.UUID(str(session_id))
    except ValueError as exc:
        raise NotFound("session") from exc
    rows = model.objects.for_organization(actor.organization_id).filter(session_id=session_key)
    return rows.one(row_id, what)


def _detail(actor: Actor, session_id: Any, purpose: str) -> dict[str, Any]:
    """The session as GET returns it (the read is audited)."""
    return bodies.session_body(open_session(actor, session_id, purpose=purpose), timezone.now())


def _day_filter(organization_id: Any, day: Any) -> Q:
    """Sessions checked in on `day` of their clinic's calendar (home sessions: the server's zone)."""

    def bounds(zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(day, time(0), tzinfo=zone)
        return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)

    start, end = bounds(ZoneInfo(settings.TIME_ZONE))
    where = Q(clinic__isnull=True, checked_in_at__gte=start, checked_in_at__lt=end)
    for clinic_id, zone in Clinic.objects.for_organization(organization_id).values_list("pk", "timezone"):
        start, end = bounds(ZoneInfo(zone))
        where |= Q(clinic_id=clinic_id, checked_in_at__gte=start, checked_in_at__lt=end)
    return where


# Sessions -------------------------------------------------------------------------------------------


@router.get("/sessions", response=documented(200, SessionPage))
def list_sessions(request: HttpRequest, query: Query[SessionQuery]) -> Any:
    """Sessions, newest check-in first; `date` (the clinic's day) and `status` narrow the list.
    The read is audited."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    refuse_unknown_query(request, SessionQuery)
    rows = sessions_of(actor.organization_id).annotate(
        open_alert_count=Count("alerts", filter=Q(alerts__responded_at__isnull=True))
    )
    if query.status:
        if query.status not in SESSION_STATUSES:
            raise ValidationFailed.single("status", f"Choose one of: {', '.join(SESSION_STATUSES)}.")
        rows = rows.filter(status=query.status)
    if query.date:
        rows = rows.filter(_day_filter(actor.organization_id, query.date))
    with transaction.atomic():
        page = paginate(rows.order_by("-checked_in_at", "pk"), query.page, query.page_size)
        record(actor, Action.LIST, "TreatmentSession", detail={"count": page.total})
    body = page_body(request, page)
    body["items"] = [bodies.summary_body(s, s.open_alert_count) for s in page.items]
    return body


@router.post("/sessions", response=documented(201, SessionOut))
def check_in_session(request: HttpRequest, payload: CheckInIn) -> Any:
    """Check the patient in for a treatment appointment (again: the same session). The monitoring
    rules and the plan's dose are copied into the session as they are now."""
    actor = actor_of(request)
    try:
        session = checkin.check_in(actor, payload.appointment_id)
    except NotFound as exc:
        raise ValidationFailed.single("appointment_id", "No such appointment in your practice.") from exc
    return Status(201, _detail(actor, session.pk, "checked in"))


@router.get("/sessions/{session_id}", response=documented(200, SessionOut))
def get_session(request: HttpRequest, session_id: SessionId) -> Any:
    """The whole chairside record; every threshold with its source."""
    return _detail(actor_of(request), session_id, "api")


@router.post("/sessions/{session_id}/checklist", response=documented(200, ReadinessOut))
def record_session_checklist(request: HttpRequest, session_id: SessionId, payload: ChecklistIn) -> Any:
    """The pre-session checklist with the pre-dose vital signs; returns the readiness decision,
    each blocker with its source."""
    readiness = checkin.record_checklist(
        actor_of(request),
        session_id,
        fasting_confirmed=payload.fasting_confirmed,
        escort_name=payload.escort_name,
        escort_phone=payload.escort_phone,
        medications_taken=payload.medications_taken,
        pregnancy_test=payload.pregnancy_test,
        intention=payload.intention,
        mood=payload.mood,
        playlist=payload.playlist,
        room_preferences=payload.room_preferences,
        pre_dose=payload.pre_dose.model_dump(exclude_none=True) if payload.pre_dose else None,
    )
    return readiness.as_dict()


@router.post("/sessions/{session_id}/override", response=documented(200, SessionOut))
def override_session_readiness(request: HttpRequest, session_id: SessionId, payload: ReasonIn) -> Any:
    """Proceed against a not-ready decision (SIGN_DOSES); the reason is kept and shown."""
    actor = actor_of(request)
    session = checkin.override_readiness(actor, session_id, reason=payload.reason)
    return _detail(actor, session.pk, "override")


@router.post("/sessions/{session_id}/preparations", response=documented(201, PreparationOut))
def prepare_session_dose(request: HttpRequest, session_id: SessionId, payload: PreparationIn) -> Any:
    """Record the dose drawn up (vial volume or devices) from a lot; the ledger's administration is
    written with it. Above the plan needs override_reason and SIGN_DOSES."""
    with refused_on_field(STOCK):  # the session is looked up first: a foreign one stays a 404
        preparation = doses.prepare_dose(
            actor_of(request),
            session_id,
            lot_id=payload.lot_id,
            location_id=payload.location_id,
            volume_drawn_ml=_decimal(payload.volume_drawn_ml),
            units=payload.units,
            bag_ml=_decimal(payload.bag_ml),
            pump_rate_ml_per_h=_decimal(payload.pump_rate_ml_per_h),
            override_reason=payload.override_reason,
        )
    return Status(201, bodies.preparation_body(bodies.reloaded_preparation(preparation.pk)))


@router.post(
    "/sessions/{session_id}/preparations/{preparation_id}/verify", response=documented(200, PreparationOut)
)
def verify_session_preparation(
    request: HttpRequest, session_id: SessionId, preparation_id: PreparationId
) -> Any:
    """The second check, by someone other than the preparer."""
    actor = actor_of(request)
    found = _of_session(DosePreparation, actor, session_id, preparation_id, "preparation")
    preparation = doses.verify_preparation(actor, found.pk)
    return bodies.preparation_body(bodies.reloaded_preparation(preparation.pk))


@router.post("/sessions/{session_id}/events", response=documented(201, EventOut))
def record_session_event(request: HttpRequest, session_id: SessionId, payload: EventIn) -> Any:
    """Start, pause, resume, a rate change, stop, or give (a device, an injection). Out of order
    (stop before start, a time before the last event) is refused naming `kind` or `at`."""
    event = doses.record_event(
        actor_of(request),
        session_id,
        kind=payload.kind,
        at=payload.at,
        rate_ml_per_h=_decimal(payload.rate_ml_per_h),
        amount_mg=_decimal(payload.amount_mg),
        note=payload.note,
    )
    return Status(201, bodies.event_body(event))


@router.post("/sessions/{session_id}/vitals", response=documented(201, VitalsOut))
def record_session_vitals(request: HttpRequest, session_id: SessionId, payload: VitalsSetIn) -> Any:
    """One set of vital signs; readings outside the protocol's limits raise alerts, each with the
    limit and its source. An impossible value is refused naming its field; nothing is stored."""
    readings = payload.model_dump(exclude={"measured_at"}, exclude_none=True)
    result = vitals.record_vitals(actor_of(request), session_id, readings, measured_at=payload.measured_at)
    return Status(201, bodies.vitals_result_body(result))


@router.post("/sessions/{session_id}/vitals/batch", response=documented(201, BatchOut))
def ingest_session_vitals(request: HttpRequest, session_id: SessionId, payload: BatchIn) -> Any:
    """The monitor feed: up to 500 readings, all stored or none. A bad reading refuses the batch,
    named `readings[i].field`. Returns how many were stored and the alerts they raised."""
    readings = [reading.model_dump(exclude_none=True) for reading in payload.readings]
    result = vitals.ingest_batch(actor_of(request), session_id, readings)
    return Status(201, {"stored": result.stored, "alerts": [bodies.alert_body(a) for a in result.alerts]})


@router.post("/sessions/{session_id}/alerts/{vital_alert_id}/response", response=documented(200, AlertOut))
def respond_to_session_alert(
    request: HttpRequest, session_id: SessionId, vital_alert_id: VitalAlertId, payload: AlertResponseIn
) -> Any:
    """Answer an alert: pause the infusion (a pause event is written when it is running), give a
    medication (record the rescue dose), or call the prescriber (a note is required)."""
    actor = actor_of(request)
    found = _of_session(VitalAlert, actor, session_id, vital_alert_id, "alert")
    alert = vitals.respond_to_alert(actor, found.pk, response=payload.response, note=payload.note)
    return bodies.alert_body(alert)


@router.post("/sessions/{session_id}/side-effects", response=documented(201, SideEffectOut))
def record_session_side_effect(request: HttpRequest, session_id: SessionId, payload: SideEffectIn) -> Any:
    effect = effects.record_side_effect(
        actor_of(request),
        session_id,
        kind=payload.kind,
        severity=payload.severity,
        onset_at=payload.onset_at,
        note=payload.note,
    )
    return Status(201, bodies.side_effect_body(effect))


@router.post("/sessions/{session_id}/rescue-doses", response=documented(201, RescueOut))
def give_session_rescue_dose(request: HttpRequest, session_id: SessionId, payload: RescueDoseIn) -> Any:
    """A rescue medication from the clinic's formulary; a controlled one (midazolam) is drawn from
    the ledger. Naming `alert_id` answers that alert."""
    with refused_on_field(STOCK | {"alert": "alert_id"}):  # the session first, as above
        dose = effects.give_rescue(
            actor_of(request),
            session_id,
            drug_key=payload.drug_key,
            dose_mg=Decimal(str(payload.dose_mg)),
            route=payload.route,
            reason=payload.reason,
            given_at=payload.given_at,
            lot_id=payload.lot_id,
            location_id=payload.location_id,
            alert_id=payload.alert_id,
            override_reason=payload.override_reason,
        )
    return Status(201, bodies.rescue_body(dose))


@router.post("/sessions/{session_id}/scores", response=documented(201, ScoreOut))
def score_session_instrument(request: HttpRequest, session_id: SessionId, payload: ScoreIn) -> Any:
    """A CADSS-6 or MOAA/S scored now (stored as a clinician-rated questionnaire response)."""
    score = scores.score_in_session(actor_of(request), session_id, payload.instrument_id, payload.answers)
    return Status(201, bodies.score_body(score))


@router.post("/sessions/{session_id}/aldrete", response=documented(200, DischargeOut))
def score_session_aldrete(request: HttpRequest, session_id: SessionId, payload: AldreteIn) -> Any:
    """The modified Aldrete score; returns the discharge readiness with every unmet condition."""
    readiness = recovery.score_aldrete(actor_of(request), session_id, payload.model_dump())
    return bodies.discharge_body(readiness)


@router.post("/sessions/{session_id}/discharge", response=documented(200, SessionOut))
def discharge_session(request: HttpRequest, session_id: SessionId, payload: DischargeIn) -> Any:
    """Discharge to the named escort; the appointment is completed and the follow-up questionnaire
    scheduled. Before ready needs override_reason and SIGN_DOSES."""
    actor = actor_of(request)
    session = recovery.discharge(
        actor,
        session_id,
        escort_handover_name=payload.escort_handover_name,
        send_instructions=tuple(payload.send_instructions),
        override_reason=payload.override_reason,
    )
    return _detail(actor, session.pk, "discharged")


@router.post("/sessions/{session_id}/note/sign", response=documented(200, SessionOut))
def sign_session_note(request: HttpRequest, session_id: SessionId, payload: SignIn) -> Any:
    """Sign and lock the note (SIGN_DOSES); later changes are amendments."""
    actor = actor_of(request)
    session = notes.sign_note(actor, session_id, note=payload.note)
    return _detail(actor, session.pk, "signed")


@router.post("/sessions/{session_id}/note/amendments", response=documented(201, AmendmentOut))
def amend_session_note(request: HttpRequest, session_id: SessionId, payload: AmendmentIn) -> Any:
    """Amend a signed note with a reason; the original text is kept."""
    amendment = notes.amend_note(actor_of(request), session_id, note=payload.note, reason=payload.reason)
    return Status(201, bodies.amendment_body(amendment))

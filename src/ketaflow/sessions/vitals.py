"""Vital signs during a session, the alerts they raise and the answers to those alerts.

A reading is checked for plausibility (`clinical.vitals.check_vitals`: a typing error is refused,
naming the field) and stored as a `patients.VitalSigns` row of context "session", linked to the
session with its phase. Readings outside the protocol's limits, or a systolic rise above the
pre-dose baseline, raise a `VitalAlert` carrying the limit and its source (reference §4); it stays
open until someone answers it: pausing the infusion (the pause event is written with the answer),
giving a medication, or calling the prescriber. `ingest_batch` takes a monitor's readings in one
all-or-nothing write.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record, record_many
from ketaflow.changes import announce
from ketaflow.clinical import dose_events as core
from ketaflow.patients.models import VitalSigns
from ketaflow.validation import FieldError, ValidationFailed

from .access import locked_session
from .flow_common import INFUSION_ROUTES, moment, rules_of, text
from .flow_events import append_event, events_of
from .flow_vitals import baseline_of, build_set, clean_readings, notify_alerts, open_crossings, phase_of
from .models import RescueDose, SessionVitals, TreatmentSession, VitalAlert

BATCH_LIMIT = 500
SOURCES = {choice.value for choice in SessionVitals.Source}


@dataclass(frozen=True)
class VitalsResult:
    link: SessionVitals
    alerts: list[VitalAlert] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    stored: int
    alerts: list[VitalAlert] = field(default_factory=list)


def record_vitals(
    actor: Actor,
    session_id: uuid.UUID | str,
    readings: dict[str, Any],
    *,
    measured_at: datetime | None = None,
    source: str = "manual",
    device: str = "",
) -> VitalsResult:
    """One set of readings, with the alerts it raises. ValidationFailed names each implausible
    reading (nothing is stored), `measured_at` in the future, or a session already over."""
    actor.require(Permission.CHART_SESSIONS)
    if not isinstance(readings, dict):
        raise ValidationFailed.single("readings", "Send the readings as an object of vital signs.")
    clean, errors = clean_readings(readings)
    if errors:
        raise ValidationFailed(errors)
    when = moment(measured_at, "measured_at")
    how = _source(source)
    where = text(device, "device", limit=80)
    with transaction.atomic():
        session = locked_session(actor, session_id)
        new = build_set(
            actor,
            session,
            clean,
            measured_at=when,
            phase=phase_of(session),
            source=how,
            device=where,
            rules=rules_of(session),
            baseline_systolic=baseline_of(session),
            raised=open_crossings(session),
        )
        new.vitals.save()
        new.link.save()
        new.link.session, new.link.vitals = session, new.vitals
        for alert in new.alerts:
            alert.save()
            alert.session, alert.vitals = session, new.vitals
        notify_alerts(session, new.alerts)
        record_many(actor, _audit(session, [new.vitals], new.alerts, how))
    return VitalsResult(new.link, new.alerts)


def _source(source: str) -> str:
    if source not in SOURCES:
        raise ValidationFailed.single("source", "The source is 'manual' or 'monitor'.")
    return source


def _audit(
    session: TreatmentSession, vitals: Sequence[VitalSigns], alerts: Sequence[VitalAlert], source: str
) -> list[Entry]:
    """One audit entry per reading and per alert raised."""
    entries = [
        Entry(
            Action.CREATE,
            "VitalSigns",
            str(v.pk),
            session.patient_id,
            {"session": str(session.pk), "source": source},
        )
        for v in vitals
    ]
    entries += [
        Entry(
            Action.CREATE,
            "VitalAlert",
            str(a.pk),
            session.patient_id,
            {"session": str(session.pk), "field": a.field, "direction": a.direction},
        )
        for a in alerts
    ]
    return entries


def ingest_batch(actor: Actor, session_id: uuid.UUID | str, readings: list[dict[str, Any]]) -> BatchResult:
    """A monitor's readings (each with `measured_at`, vital signs and optionally `device`), stored
    together or not at all: every item is checked first and each error named `readings[i].field`.
    At most 500 readings a batch. Alerts are raised in time order, once per crossing."""
    actor.require(Permission.CHART_SESSIONS)
    if not isinstance(readings, list) or not readings:
        raise ValidationFailed.single("readings", "Send a list of readings.")
    if len(readings) > BATCH_LIMIT:
        raise ValidationFailed.single("readings", f"Send at most {BATCH_LIMIT} readings at a time.")
    now = timezone.now()
    items: list[tuple[datetime, dict[str, Any], str]] = []
    errors: list[FieldError] = []
    for index, item in enumerate(readings):
        prefix = f"readings[{index}]."
        if not isinstance(item, dict):
            errors.append(FieldError(f"readings[{index}]", "Each reading is an object."))
            continue
        values = {k: v for k, v in item.items() if k not in ("measured_at", "device")}
        clean, found = clean_readings(values, prefix)
        errors.extend(found)
        try:
            if item.get("measured_at") in (None, ""):
                raise ValidationFailed.single(prefix + "measured_at", "Give the time of the reading.")
            when = moment(item["measured_at"], prefix + "measured_at", now=now)
            device = text(item.get("device"), prefix + "device", limit=80)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            continue
        items.append((when, clean, device))
    if errors:
        raise ValidationFailed(errors)
    items.sort(key=lambda entry: entry[0])
    with transaction.atomic():
        session = locked_session(actor, session_id)
        phase, rules, baseline = phase_of(session), rules_of(session), baseline_of(session)
        raised = open_crossings(session)
        sets = [
            build_set(
                actor,
                session,
                clean,
                measured_at=when,
                phase=phase,
                source=SessionVitals.Source.MONITOR.value,
                device=device,
                rules=rules,
                baseline_systolic=baseline,
                raised=raised,
            )
            for when, clean, device in items
        ]
        vitals = VitalSigns.objects.bulk_create([s.vitals for s in sets], batch_size=500)
        announce(VitalSigns, vitals)
        SessionVitals.objects.bulk_create([s.link for s in sets], batch_size=500)
        alerts = VitalAlert.objects.bulk_create([a for s in sets for a in s.alerts], batch_size=500)
        notify_alerts(session, alerts)
        record_many(actor, _audit(session, vitals, alerts, SessionVitals.Source.MONITOR.value))
    return BatchResult(len(vitals), list(alerts))


def respond_to_alert(actor: Actor, alert_id: uuid.UUID | str, *, response: str, note: str = "") -> VitalAlert:
    """Answer an open alert. pause_infusion writes a pause event when the infusion is running;
    give_medication needs the medication named in the note (or a rescue dose recorded against the
    alert); call_prescriber needs a note of what was agreed. ValidationFailed('response' / 'note')."""
    actor.require(Permission.CHART_SESSIONS)
    why = text(note, "note")
    with transaction.atomic():
        alert: VitalAlert = (
            VitalAlert.objects.for_organization(actor.organization_id)
            .select_for_update()
            .one(alert_id, "alert")
        )
        session = locked_session(actor, alert.session_id)
        answer_alert(actor, session, alert, response=response, note=why)
    return alert


def answer_alert(
    actor: Actor,
    session: TreatmentSession,
    alert: VitalAlert,
    *,
    response: str,
    note: str = "",
    at: datetime | None = None,
) -> VitalAlert:
    """Record the answer inside the caller's transaction (the session and alert locked); used by
    `respond_to_alert` and by a rescue dose given for the alert."""
    choices = {c.value for c in VitalAlert.Response}
    if response not in choices:
        raise ValidationFailed.single(
            "response", "Choose pause the infusion, give a medication or call the prescriber."
        )
    if alert.responded_at is not None:
        raise ValidationFailed.single("response", "This alert has already been answered.")
    when = at or timezone.now()
    if response == VitalAlert.Response.PAUSE_INFUSION:
        if session.route in INFUSION_ROUTES and core.state(events_of(session)) == "running":
            append_event(
                actor, session, kind=core.EventKind.PAUSE, at=when, note=f"Alert: {alert.message}"[:300]
            )
    elif response == VitalAlert.Response.GIVE_MEDICATION:
        given = RescueDose.objects.for_organization(session.organization_id).filter(alert=alert).exists()
        if not note and not given:
            raise ValidationFailed.single("note", "Name the medication given (or record the rescue dose).")
    elif not note:
        raise ValidationFailed.single("note", "Note what the prescriber advised.")
    alert.response, alert.response_note = response, note
    alert.responded_by_id, alert.responded_at = actor.user_id, when
    alert.save(update_fields=["response", "response_note", "responded_by", "responded_at"])
    record(
        actor,
        Action.UPDATE,
        "VitalAlert",
        alert.pk,
        patient_id=session.patient_id,
        detail={"session": str(session.pk), "response": response},
    )
    return alert


def open_alerts(session: TreatmentSession) -> list[VitalAlert]:
    """The session's alerts still waiting for an answer, oldest first."""
    return list(
        VitalAlert.objects.for_organization(session.organization_id)
        .filter(session=session, responded_at__isnull=True)
        .order_by("raised_at")
    )

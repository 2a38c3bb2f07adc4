"""Turning readings into stored vital signs and alerts, inside the caller's transaction.

`clean_readings` checks one set (plausible ranges from `clinical.vitals`, whole numbers where the
chart keeps them whole) and returns the errors named `<prefix>field`; `build_set` makes the unsaved
rows (VitalSigns, SessionVitals, VitalAlerts) for one clean set so one reading and a batch of 500 are
saved the same way. An alert is raised once per crossing: a reading that crosses a limit already
raised and not yet answered adds no second alert for the same field and direction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.urls import reverse

from ketaflow.accounts.actor import Actor
from ketaflow.clinical.monitoring import MonitoringRules, vital_alerts
from ketaflow.clinical.vitals import VITAL_SPECS, check_vitals
from ketaflow.measurement.models import Notification
from ketaflow.patients.models import VitalSigns
from ketaflow.validation import FieldError, ValidationFailed

from .models import SessionVitals, TreatmentSession, VitalAlert

SESSION_FIELDS = tuple(f for f in VITAL_SPECS if f not in ("weight_kg", "height_cm"))
PHASES = {
    TreatmentSession.Status.CHECKED_IN: SessionVitals.Phase.PRE_DOSE,
    TreatmentSession.Status.DOSING: SessionVitals.Phase.DOSING,
    TreatmentSession.Status.RECOVERY: SessionVitals.Phase.RECOVERY,
}
TENTH = Decimal("0.1")


def phase_of(session: TreatmentSession) -> str:
    """The phase a reading taken now belongs to; ValidationFailed once the session is over."""
    phase = PHASES.get(TreatmentSession.Status(session.status))
    if phase is None:
        raise ValidationFailed.single(
            None, f"This session is {session.get_status_display().lower()}; no more readings are taken."
        )
    return phase.value


def _number(value: Any) -> Any:
    """Form text to a Decimal where it reads as one ('' -> None); anything else unchanged, so
    `check_vitals` names it."""
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return None
        try:
            return Decimal(stripped)
        except InvalidOperation:
            return value
    return value


def clean_readings(raw: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Decimal], list[FieldError]]:
    """The readings as Decimals (absent ones left out) and every error, named `prefix + field`."""
    readings = {name: _number(value) for name, value in raw.items()}
    errors = [FieldError(prefix + e.field, e.message) for e in check_vitals(readings)]
    for name, value in readings.items():
        if name in ("weight_kg", "height_cm") and value is not None:
            errors.append(FieldError(prefix + name, "Weight and height are recorded on the chart, not here."))
    bad = {e.field for e in errors}
    clean: dict[str, Decimal] = {}
    for name in SESSION_FIELDS:
        value = readings.get(name)
        if value is None or prefix + name in bad:
            continue
        number = Decimal(str(value))
        if VITAL_SPECS[name].whole and number != number.to_integral_value():
            errors.append(FieldError(prefix + name, f"{VITAL_SPECS[name].label} is a whole number."))
            continue
        clean[name] = number if not VITAL_SPECS[name].whole else number.to_integral_value()
    if not errors and not clean:
        errors.append(FieldError(prefix.rstrip(".") or "readings", "Enter at least one reading."))
    return clean, errors


@dataclass
class NewSet:
    """The unsaved rows of one set of readings."""

    vitals: VitalSigns
    link: SessionVitals
    alerts: list[VitalAlert]


def build_set(
    actor: Actor,
    session: TreatmentSession,
    readings: Mapping[str, Decimal],
    *,
    measured_at: datetime,
    phase: str,
    source: str,
    device: str,
    rules: MonitoringRules,
    baseline_systolic: int | None,
    raised: set[tuple[str, str]],
) -> NewSet:
    """Rows for one clean set. `raised` holds the (field, direction) pairs with an open alert; it is
    updated, so a batch raises each crossing once."""
    values: dict[str, Any] = {
        name: (int(value) if VITAL_SPECS[name].whole else value.quantize(TENTH))
        for name, value in readings.items()
    }
    vitals = VitalSigns(
        organization_id=session.organization_id,
        patient_id=session.patient_id,
        recorded_by_id=actor.user_id,
        measured_at=measured_at,
        context=VitalSigns.Context.SESSION,
        **values,
    )
    link = SessionVitals(
        organization_id=session.organization_id,
        session_id=session.pk,
        vitals_id=vitals.pk,
        phase=phase,
        source=source,
        measured_at=measured_at,
        device=device,
    )
    alerts = []
    for found in vital_alerts(readings, rules, baseline_systolic=baseline_systolic):
        key = (found.field, found.direction)
        if key in raised:
            continue
        raised.add(key)
        alerts.append(
            VitalAlert(
                organization_id=session.organization_id,
                patient_id=session.patient_id,
                recorded_by_id=actor.user_id,
                session_id=session.pk,
                vitals_id=vitals.pk,
                field=found.field,
                value=found.value,
                direction=found.direction,
                limit_text=found.limit_text[:120],
                message=found.message[:300],
                source=found.source[:400],
                raised_at=measured_at,
            )
        )
    return NewSet(vitals, link, alerts)


def open_crossings(session: TreatmentSession) -> set[tuple[str, str]]:
    """(field, direction) of the session's unanswered alerts."""
    rows = VitalAlert.objects.for_organization(session.organization_id).filter(
        session=session, responded_at__isnull=True
    )
    return {(f, d) for f, d in rows.values_list("field", "direction")}


def baseline_of(session: TreatmentSession) -> int | None:
    """The pre-dose systolic pressure a rise is measured from."""
    if session.pre_dose_vitals_id is None:
        return None
    value = (
        VitalSigns.objects.filter(pk=session.pre_dose_vitals_id).values_list("systolic_bp", flat=True).first()
    )
    return int(value) if value is not None else None


def session_link(session: TreatmentSession) -> str:
    return reverse("sessions:detail", kwargs={"session_id": session.pk})


def notify_prescriber(session: TreatmentSession, title: str) -> int:
    """An in-app notice linking to the session for the plan's prescriber (else whoever signed the
    plan); the title names the patient by MRN, never by name. Returns how many were sent (0 or 1)."""
    plan = session.plan
    prescriber = plan.prescriber
    recipient = prescriber.user_id if prescriber is not None and prescriber.user.is_active else None
    recipient = recipient or plan.signed_by_id
    if recipient is None:
        return 0
    Notification.objects.create(
        organization_id=session.organization_id,
        recipient_id=recipient,
        patient_id=session.patient_id,
        title=title[:200],
        link=session_link(session),
    )
    return 1


def notify_alerts(session: TreatmentSession, alerts: Iterable[VitalAlert]) -> None:
    """One notice to the prescriber for the alerts just raised (none when there are none)."""
    fields = ", ".join(sorted({VITAL_SPECS[a.field].label.lower() for a in alerts}))
    if fields:
        notify_prescriber(session, f"Session alert for {session.patient.mrn}: {fields}")

"""Side effects and rescue medications charted during a session.

Side effects come from the catalogue's structured list, each with a severity and an onset time.
Rescue doses come from the clinic's formulary (`SessionSettings.formulary`, else the shipped default
marked verify): one of the listed doses by one of the listed routes; a dose that takes the session's
total of that drug above the formulary maximum needs a prescriber's override with a reason. A
controlled rescue drug (midazolam) is also drawn from the ledger, tied to the session, in the same
transaction; a dose given in answer to a vital-sign alert answers it ("gave a medication").
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.clinical.session_catalogue import RescueDrug, formulary, severities, side_effects
from ketaflow.ledger.models import Lot, StorageLocation
from ketaflow.ledger.stock import administer
from ketaflow.validation import FieldError, ValidationFailed

from .access import locked_session
from .doses import lot_and_location
from .flow_common import moment, text
from .models import RescueDose, SessionSettings, SideEffect, TreatmentSession, VitalAlert
from .note_text import refresh_note
from .recovery_common import num, require_charting
from .vitals import answer_alert


def record_side_effect(
    actor: Actor,
    session_id: uuid.UUID | str,
    *,
    kind: str,
    severity: str,
    onset_at: datetime | None = None,
    note: str = "",
) -> SideEffect:
    """Chart one side effect from the structured list. ValidationFailed names `kind`, `severity`,
    `onset_at` or `note`; a signed session refuses it (amend the note instead)."""
    errors = []
    if kind not in side_effects():
        errors.append(FieldError("kind", "Choose a side effect from the list."))
    if severity not in severities():
        errors.append(FieldError("severity", "Choose mild, moderate or severe."))
    try:
        note = text(note, "note")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    onset = moment(onset_at, "onset_at")
    with transaction.atomic():
        session = locked_session(actor, session_id)
        require_charting(session)
        effect = SideEffect.objects.create(
            organization_id=session.organization_id,
            patient_id=session.patient_id,
            recorded_by_id=actor.user_id,
            session=session,
            kind=kind,
            severity=severity,
            onset_at=onset,
            note=note,
        )
        record(
            actor,
            Action.CREATE,
            "SideEffect",
            effect.pk,
            patient_id=session.patient_id,
            detail={"session": str(session.pk), "kind": kind, "severity": severity},
        )
        refresh_note(session)
    return effect


def resolve_side_effect(
    actor: Actor, side_effect_id: uuid.UUID | str, *, at: datetime | None = None
) -> SideEffect:
    """Mark a side effect resolved (`at`, default now). ValidationFailed('at') before its onset,
    ('status') when already resolved; NotFound for another organization's."""
    now = timezone.now()
    when = moment(at, "at", now=now)
    with transaction.atomic():
        found: SideEffect = SideEffect.objects.for_organization(actor.organization_id).one(
            side_effect_id, "side effect"
        )
        session = locked_session(actor, found.session_id)
        require_charting(session)
        effect: SideEffect = SideEffect.objects.select_for_update().get(pk=found.pk)
        if effect.resolved_at is not None:
            raise ValidationFailed.single("status", "This side effect is already marked resolved.")
        if when < effect.onset_at:
            raise ValidationFailed.single("at", "It cannot resolve before it started.")
        effect.resolved_at = when
        effect.save(update_fields=["resolved_at"])
        record(
            actor,
            Action.UPDATE,
            "SideEffect",
            effect.pk,
            patient_id=effect.patient_id,
            detail={"session": str(session.pk), "resolved": True},
        )
        refresh_note(session)
    return effect


def clinic_formulary(organization_id: uuid.UUID) -> tuple[RescueDrug, ...]:
    """The practice's rescue formulary, or the shipped default when it has none."""
    entries = (
        SessionSettings.objects.filter(organization_id=organization_id)
        .values_list("formulary", flat=True)
        .first()
    )
    return formulary_of(entries)


def formulary_of(entries: Any) -> tuple[RescueDrug, ...]:
    """The formulary from stored settings (None or empty: the default). One that no longer
    validates raises ValidationFailed('formulary') rather than offering bad doses."""
    try:
        return formulary(entries or None)
    except ProtocolError as exc:
        raise ValidationFailed.single(
            "formulary", f"The clinic's rescue formulary is invalid: {exc}"
        ) from exc


def give_rescue(
    actor: Actor,
    session_id: uuid.UUID | str,
    *,
    drug_key: str,
    dose_mg: Any,
    route: str,
    reason: str,
    given_at: datetime | None = None,
    lot_id: Any = None,
    location_id: Any = None,
    alert_id: Any = None,
    override_reason: str = "",
) -> RescueDose:
    """Record a rescue medication given in the session. Raises ValidationFailed naming `drug_key`,
    `dose_mg`, `route`, `reason`, `given_at`, `lot_id`, `location_id`, `alert_id` or
    `override_reason` (above the formulary's session maximum without a prescriber's override);
    nothing is written then. A controlled drug writes a ledger administration in the same
    transaction; `alert_id` answers that open alert with 'gave a medication'."""
    drug = _drug(actor.organization_id, drug_key)
    dose = _dose(drug, dose_mg)
    errors = []
    if route not in drug.routes:
        errors.append(FieldError("route", f"{drug.name} is given {_routes(drug)} in this formulary."))
    try:
        reason = text(reason, "reason", required="Say why it was given.")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if drug.controlled and not lot_id:
        errors.append(FieldError("lot_id", f"{drug.name} is controlled: choose the lot it came from."))
    if drug.controlled and not location_id:
        errors.append(FieldError("location_id", "Choose the storage location it came from."))
    if not drug.controlled and lot_id:
        errors.append(FieldError("lot_id", f"{drug.name} is not a controlled drug; it has no ledger lot."))
    if errors:
        raise ValidationFailed(errors)
    now = timezone.now()
    when = moment(given_at, "given_at", now=now)
    with transaction.atomic():
        session = locked_session(actor, session_id)
        require_charting(session)
        override = _override(actor, session, drug, dose, override_reason)
        lot = entry = None
        if drug.controlled:
            lot, location = _stock(actor, session, drug, lot_id, location_id, when)
            entry = administer(
                actor,
                lot=lot,
                location=location,
                quantity_mg=dose,
                patient_id=session.patient_id,
                session_id=session.pk,
                occurred_at=when,
            )
        alert = _alert(actor, session, alert_id) if alert_id else None
        given = RescueDose.objects.create(
            organization_id=session.organization_id,
            patient_id=session.patient_id,
            recorded_by_id=actor.user_id,
            session=session,
            drug_key=drug.key,
            drug_name=drug.name,
            dose_mg=dose,
            route=route,
            given_at=when,
            reason=reason,
            controlled=drug.controlled,
            override_reason=override,
            alert=alert,
            lot=lot,
            ledger_entry=entry,
        )
        record(
            actor,
            Action.CREATE,
            "RescueDose",
            given.pk,
            patient_id=session.patient_id,
            detail={
                "session": str(session.pk),
                "drug": drug.key,
                "dose_mg": f"{dose:f}",
                "override": bool(override),
                "ledger_entry": str(entry.pk) if entry else None,
            },
        )
        if alert is not None:
            note = f"Gave {drug.name} {num(dose)} mg {route}"
            answer_alert(
                actor, session, alert, response=VitalAlert.Response.GIVE_MEDICATION, note=note, at=now
            )
        refresh_note(session)
    return given


def _drug(organization_id: uuid.UUID, drug_key: str) -> RescueDrug:
    drugs = clinic_formulary(organization_id)
    for drug in drugs:
        if drug.key == drug_key:
            return drug
    names = ", ".join(d.name for d in drugs)
    raise ValidationFailed.single("drug_key", f"Choose a drug from the clinic's formulary ({names}).")


def _dose(drug: RescueDrug, value: Any) -> Decimal:
    listed = ", ".join(f"{d:f}" for d in drug.doses_mg)
    try:
        dose = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed.single("dose_mg", f"Choose a dose: {listed} mg.") from exc
    if not dose.is_finite() or dose not in drug.doses_mg:
        raise ValidationFailed.single("dose_mg", f"The formulary's {drug.name} doses are {listed} mg.")
    return dose


def _routes(drug: RescueDrug) -> str:
    return " or ".join(drug.routes)


def _override(
    actor: Actor, session: TreatmentSession, drug: RescueDrug, dose: Decimal, override_reason: str
) -> str:
    """'' within the formulary's session maximum; above it, the override reason (a prescriber's)."""
    given = RescueDose.objects.for_organization(session.organization_id).filter(
        session=session, drug_key=drug.key
    )
    total = (given.aggregate(total=Sum("dose_mg"))["total"] or Decimal(0)) + dose
    if total <= drug.max_mg:
        return ""
    limit = (
        f"This takes today's {drug.name} to {num(total)} mg, above the formulary's session maximum of "
        f"{num(drug.max_mg)} mg"
    )
    why = text(
        override_reason,
        "override_reason",
        required=f"{limit}: a prescriber's override with a reason is needed.",
    )
    if not actor.can(Permission.SIGN_DOSES):
        raise ValidationFailed.single("override_reason", f"{limit}: only a prescriber can override it.")
    return why


def _stock(
    actor: Actor, session: TreatmentSession, drug: RescueDrug, lot_id: Any, location_id: Any, when: datetime
) -> tuple[Lot, StorageLocation]:
    """The lot and location (`doses.lot_and_location`), of the formulary's drug."""
    lot, location = lot_and_location(actor, session, lot_id, location_id, when)
    if lot.product.drug != drug.key:
        raise ValidationFailed.single("lot_id", f"This lot is {lot.product.name}, not {drug.name}.")
    return lot, location


def _alert(actor: Actor, session: TreatmentSession, alert_id: Any) -> VitalAlert:
    alert: VitalAlert = (
        VitalAlert.objects.for_organization(actor.organization_id)
        .filter(session=session)
        .select_for_update()
        .one(alert_id, "alert")
    )
    if not alert.is_open:
        raise ValidationFailed.single("alert_id", "This alert has already been answered.")
    return alert

"""Recording vital signs, weight and height, with BMI derived; checks in `ketaflow.clinical.vitals`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.vitals import VITAL_SPECS, VITALS, body_mass_index, check_vitals
from ketaflow.validation import FieldError, ValidationFailed

from .models import VitalSigns
from .services import _load

FUTURE_TOLERANCE = timedelta(minutes=5)


def _number(field: str, value: Any) -> Decimal | int | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        label = VITAL_SPECS[field].label.lower()
        raise ValidationFailed.single(field, f"Enter a number for {label}.") from exc
    if not number.is_finite():
        raise ValidationFailed.single(field, "Enter a number.")
    if VITAL_SPECS[field].whole:
        if number != number.to_integral_value():
            raise ValidationFailed.single(field, "Enter a whole number.")
        return int(number)
    return number.quantize(Decimal("0.1"))


def clean_readings(readings: Mapping[str, Any]) -> dict[str, Decimal | int | None]:
    """Parse and check one set of readings; raises ValidationFailed with every field's error."""
    errors: list[FieldError] = []
    parsed: dict[str, Decimal | int | None] = {}
    for name, value in readings.items():
        if name not in VITAL_SPECS:
            errors.append(FieldError(name, "is not a vital sign ketaflow records"))
            continue
        try:
            parsed[name] = _number(name, value)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if not errors:
        errors.extend(FieldError(e.field, e.message) for e in check_vitals(parsed))
    if not errors and all(v is None for v in parsed.values()):
        errors.append(FieldError(None, "Enter at least one reading."))
    if errors:
        raise ValidationFailed(errors)
    return parsed


def record_vitals(
    actor: Actor,
    patient_id: uuid.UUID | str,
    readings: Mapping[str, Any],
    *,
    measured_at: datetime | None = None,
    context: str = VitalSigns.Context.EVALUATION,
) -> VitalSigns:
    """Store one set of readings, all or nothing. Raises ValidationFailed naming each bad field
    (impossible values, half a blood pressure, a time in the future), NotFound or Forbidden."""
    actor.require(Permission.EDIT_CLINICAL)
    parsed = clean_readings(readings)
    now = timezone.now()
    measured_at = measured_at or now
    if measured_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed.single("measured_at", "The time of the readings cannot be in the future.")
    if context not in VitalSigns.Context.values:
        raise ValidationFailed.single("context", "Choose evaluation, session or other.")
    values = {spec.field: parsed.get(spec.field) for spec in VITALS}
    weight, height = values["weight_kg"], values["height_cm"]
    bmi = body_mass_index(weight, height) if weight is not None and height is not None else None
    with transaction.atomic():
        patient = _load(actor, patient_id)
        vitals = VitalSigns.objects.create(
            organization_id=patient.organization_id, patient=patient, recorded_by_id=actor.user_id,
            measured_at=measured_at, context=context, bmi=bmi, **values,
        )
        record(actor, Action.CREATE, "VitalSigns", vitals.pk, patient_id=patient.pk)
    return vitals

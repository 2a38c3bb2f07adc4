"""A practice's session records for the cross-tenant matrices: an IV session being dosed (its
preparation, an open vital-sign alert, a side effect), a REMS form, and the ledger's lot and count,
all of a new patient named `<label>session`."""

from __future__ import annotations

import dataclasses
from typing import Any

from ketaflow.sessions.effects import record_side_effect
from ketaflow.sessions.models import RemsForm
from ketaflow.sessions.vitals import record_vitals
from tests.factories import PatientFactory
from tests.integration.sessions_factories import dosing_session, nurse
from tests.integration.test_ledger_services import ledger_records


def session_records(practice: Any, label: str) -> dict[str, list[str]]:
    """URL kwargs -> values naming `practice`'s session records."""
    patient = PatientFactory(home_clinic=practice.clinic, legal_family_name=f"{label}session")
    practice = dataclasses.replace(practice, patient=patient)
    session = dosing_session(practice, "iv")
    charting = nurse(practice)
    alert = record_vitals(charting, session.pk, {"systolic_bp": 196, "diastolic_bp": 96}).alerts[0]
    effect = record_side_effect(charting, session.pk, kind="nausea", severity="mild", note=f"{label} queasy")
    form = RemsForm.objects.create(
        organization=practice.org, patient=patient, session=session, fields={"fields": []},
        due_on=session.checked_in_at.date(),
    )
    return {
        "session_id": [str(session.pk)],
        "preparation_id": [str(session.preparations.get().pk)],
        "vital_alert_id": [str(alert.pk)],
        "side_effect_id": [str(effect.pk)],
        "form_id": [str(form.pk)],
        **ledger_records(practice, label),
    }

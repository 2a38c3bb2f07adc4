"""The treatment-session, REMS and ledger records the API cross-tenant matrix aims at. All synthetic.
(This module holds no tests.)

`SessionObjects(practice, clinic, label)` makes what a session operation's path or body names,
each on first use, for a new patient `<label>session` at `clinic`: a session at the `stage` the
operation needs (the matrix's PRECONDITIONS choose it; `dosing` by default, with an open alert),
its preparation and alert, a REMS form, stock on the shelf, an open count, a witness, a second
storage location and a treatment visit to check in to. `everything()` makes them all at once (for
the other organization, before its rows are snapshotted).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.utils import timezone

from ketaflow.accounts.models import StaffMember
from ketaflow.clinics.models import Clinic
from ketaflow.ledger.counts import record_count
from ketaflow.ledger.models import Balance, Count, Lot, Product, StorageLocation
from ketaflow.scheduling.models import Appointment
from ketaflow.sessions.checkin import record_checklist
from ketaflow.sessions.models import DosePreparation, RemsForm, TreatmentSession, VitalAlert
from ketaflow.sessions.notes import sign_note
from ketaflow.sessions.recovery import discharge
from ketaflow.sessions.vitals import record_vitals
from tests.factories import PatientFactory
from tests.integration.sessions_factories import (
    CHECKLIST,
    NORMAL_VITALS,
    booked_treatment,
    checked_in,
    dosing_session,
    nurse,
    prepared,
    prescriber,
    ready_session,
    second_nurse,
    stock,
    stopped_session,
)

STAGES = ("checked_in", "not_ready", "ready", "prepared", "dosing", "recovery", "discharged", "signed")


class SessionObjects:
    """One practice's session-side records at one clinic, made when first asked for."""

    def __init__(self, practice: Any, clinic: Clinic, label: str) -> None:
        self.practice, self.clinic, self.label = practice, clinic, label
        self.stage = "dosing"

    def at(self, stage: str) -> None:
        """Make `session` a session at `stage` (before it is first used)."""
        assert stage in STAGES and "session" not in self.__dict__, stage
        self.stage = stage

    def _practice(self, role: str) -> Any:
        patient = PatientFactory(home_clinic=self.clinic, legal_family_name=f"{self.label}{role}")
        return dataclasses.replace(self.practice, clinic=self.clinic, patient=patient)

    @cached_property
    def session(self) -> TreatmentSession:
        place = self._practice("session")
        made = _at_stage(place, self.stage)
        made.refresh_from_db()
        return made

    @cached_property
    def visit(self) -> Appointment:
        """A treatment booked for today on another patient's signed plan, not checked in yet."""
        return booked_treatment(self._practice("visit"))

    @cached_property
    def preparation(self) -> DosePreparation:
        found = DosePreparation.objects.filter(session=self.session).first()
        assert found is not None, f"a {self.stage} session has no preparation"
        return found

    @cached_property
    def vital_alert(self) -> VitalAlert:
        """An open alert of the session (a systolic pressure above the limit)."""
        record_vitals(nurse(self.practice), self.session.pk, {**NORMAL_VITALS, "systolic_bp": 188})
        return VitalAlert.objects.filter(session=self.session, responded_at__isnull=True).get()

    @cached_property
    def form(self) -> RemsForm:
        """A REMS monitoring form due in a week (written directly: any session will do here)."""
        return RemsForm.objects.create(
            organization=self.practice.org,
            patient_id=self.session.patient_id,
            session=self.session,
            due_on=timezone.localdate() + timedelta(days=7),
            fields={"matrix": f"{self.label} form"},
        )

    @cached_property
    def stock(self) -> tuple[Product, StorageLocation, Lot]:
        return stock(dataclasses.replace(self.practice, clinic=self.clinic))

    @property
    def lot(self) -> Lot:
        return self.stock[2]

    @property
    def safe(self) -> StorageLocation:
        return self.stock[1]

    @cached_property
    def cart(self) -> StorageLocation:
        return StorageLocation.objects.create(
            organization=self.practice.org, clinic=self.clinic, name=f"{self.label} cart"
        )

    @cached_property
    def witness(self) -> StaffMember:
        return second_nurse(self.practice)

    def on_hand(self) -> dict[str, float]:
        """The safe's balances by lot id, as a count that agrees with the ledger."""
        rows = Balance.objects.filter(location=self.safe, quantity_mg__gt=0)
        return {str(b.lot_id): float(b.quantity_mg) for b in rows}

    @cached_property
    def count(self) -> Count:
        """An open count of the safe: one mg short."""
        counted = {lot: Decimal(str(mg)) - 1 for lot, mg in self.on_hand().items()}
        return record_count(nurse(self.practice), location_id=self.safe.pk, kind="periodic", counted=counted)

    def preparation_body(self) -> dict[str, Any]:
        """The plan's dose drawn into a 100 mL bag at 150 mL/h from this practice's lot."""
        planned = Decimal(self.session.planned_mg)
        return {
            "lot_id": str(self.lot.pk),
            "location_id": str(self.safe.pk),
            "volume_drawn_ml": float((planned / 50).quantize(Decimal("0.01"))),
            "bag_ml": 100,
            "pump_rate_ml_per_h": 150,
        }

    def everything(self) -> SessionObjects:
        for name in (
            "session",
            "visit",
            "preparation",
            "vital_alert",
            "form",
            "stock",
            "cart",
            "witness",
            "count",
        ):
            getattr(self, name)
        return self


def _at_stage(practice: Any, stage: str) -> TreatmentSession:
    if stage == "checked_in":
        return checked_in(practice)
    if stage == "not_ready":
        session = checked_in(practice)
        record_checklist(
            nurse(practice), session.pk, **{**CHECKLIST, "pre_dose": {**NORMAL_VITALS, "systolic_bp": 172}}
        )
        return session
    if stage == "ready":
        return ready_session(practice)
    if stage == "prepared":
        session = ready_session(practice)
        prepared(practice, session, verify=False)
        return session
    if stage == "dosing":
        return dosing_session(practice)
    session = stopped_session(practice)
    if stage in ("discharged", "signed"):
        discharge(
            prescriber(practice), session.pk, escort_handover_name="Sam Synthetic", override_reason="Matrix"
        )
    if stage == "signed":
        sign_note(prescriber(practice), session.pk)
    return session

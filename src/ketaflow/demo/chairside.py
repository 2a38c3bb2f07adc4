"""One demo treatment visit at the chair, step by step through the session services.

A visit's script (`visit`) checks the patient in at the appointment time, records the checklist
with the pre-dose vital signs, draws the dose from the clinic's stock and has it checked by a second
person (the clinic's prescriber), gives it (`dosing.py`: an infusion, esketamine devices, an
injection), takes vital signs at the protocol's interval, scores the Aldrete and discharges to the
escort; the prescriber signs the note later that day. What varies between visits is their `Story`:
a raised pre-dose blood pressure overridden by the prescriber, alerts and their answers, side
effects, a midazolam rescue, an infusion paused or stopped early with the rest wasted before a
witness (or, once, not: the session the ledger flags), in-session scores, the note left unsigned or
amended, an esketamine visit's REMS form submitted the next day or left open. `in_progress` starts
today's visit and leaves it dosing. Everything is synthetic.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ketaflow.clinical.demographics import age_on
from ketaflow.scheduling.models import Appointment
from ketaflow.sessions.checkin import check_in, override_readiness, record_checklist
from ketaflow.sessions.doses import prepare_dose, verify_preparation
from ketaflow.sessions.effects import resolve_side_effect
from ketaflow.sessions.flow_common import drug_of_route
from ketaflow.sessions.models import DosePreparation, RemsForm, SideEffect, TreatmentSession
from ketaflow.sessions.notes import amend_note, sign_note
from ketaflow.sessions.recovery import discharge, score_aldrete
from ketaflow.sessions.rems import submit_form

from .dosing import devices, infusion, infusion_of, injection, scores, start_dosing
from .replay import Script
from .seat import MINUTE, Chair, Seat, Story

FALLBACK_ESCORT = ("Jordan Example", "+15035550142")
OVERRIDE_REASON = (
    "Anxious on arrival; repeat 152/94 after ten minutes' rest. Benefit outweighs the risk: proceed "
    "with blood pressure every 5 minutes for the first 15 minutes."
)
AMENDMENT_REASON = "Late entry: the patient's call the morning after the session"
AMENDMENT = (
    "Addendum: the patient phoned the next morning; a mild headache overnight settled with fluids. "
    "No further action."
)
ALDRETE: dict[str, object] = {
    "activity": 2,
    "respiration": 2,
    "circulation": 2,
    "consciousness": 2,
    "oxygen_saturation": 2,
}


def _checklist(seat: Seat, pre_dose: dict[str, int]) -> dict[str, Any]:
    rng, patient = seat.chair.rng, seat.appointment.patient
    escort = (patient.emergency_contact_name, patient.emergency_contact_phone)
    name, phone = escort if all(escort) else FALLBACK_ESCORT
    age = age_on(patient.date_of_birth, seat.appointment.starts_at.date())
    return {
        "fasting_confirmed": True,
        "escort_name": name[:120],
        "escort_phone": phone,
        "medications_taken": rng.choice(
            (
                "Usual morning medications",
                "Sertraline 100 mg this morning",
                "None today",
                "Bupropion XL 150 mg",
            )
        ),
        "pregnancy_test": "negative" if patient.sex_at_birth == "female" and age < 52 else "not_applicable",
        "intention": rng.choice(("Stay curious about what comes up", "Rest and let go", "")),
        "mood": rng.randint(2, 6),
        "playlist": rng.choice(("Calm piano", "Ambient", "Nature sounds", "")),
        "room_preferences": rng.choice(("Lights low", "Eye mask and blanket", "")),
        "pre_dose": pre_dose,
    }


def _arrive(seat: Seat, start: datetime) -> Generator[datetime, None, DosePreparation]:
    """Check-in, checklist (and override), the dose drawn up and checked: ready to dose."""
    seat.session = check_in(seat.nurse, seat.appointment.pk)
    yield start + 4 * MINUTE
    high = seat.story.high_bp
    pre = seat.reading(systolic_bp=166, diastolic_bp=98) if high else seat.reading()
    checklist = _checklist(seat, pre)
    seat.escort = checklist["escort_name"]
    record_checklist(seat.nurse, seat.pk, **checklist)
    if high:
        seat.systolic = 150
        yield start + 6 * MINUTE
        override_readiness(seat.prescriber, seat.pk, reason=OVERRIDE_REASON)
    yield start + 8 * MINUTE
    preparation = _prepare(seat)
    yield start + 10 * MINUTE
    verify_preparation(seat.prescriber, preparation.pk)
    seat.chair.totals["preparations"] += 1
    return preparation


def _prepare(seat: Seat) -> DosePreparation:
    session, stock = seat.session, seat.chair.stock
    planned, clinic = Decimal(session.planned_mg), seat.appointment.clinic_id
    drug = drug_of_route(session.route)
    lot = stock.lot_for(clinic, drug, planned, seat.appointment.starts_at.date())
    product = stock.products[drug]
    options: dict[str, Any] = {}
    if product.ml_per_unit:
        volume = planned * product.ml_per_unit / product.mg_per_unit
        options["volume_drawn_ml"] = volume.quantize(Decimal("0.01"), ROUND_DOWN)  # never above the plan
    else:
        options["units"] = int(planned // product.mg_per_unit)
    if session.route == "iv":  # the protocol's bag run over its infusion time
        bag, minutes = infusion_of(seat)
        options |= {"bag_ml": bag, "pump_rate_ml_per_h": (bag * 60 / minutes).quantize(Decimal("0.1"))}
    return prepare_dose(
        seat.nurse, session.pk, lot_id=lot.pk, location_id=stock.location(clinic).pk, **options
    )


def visit(chair: Chair, appointment: Appointment, clinic_index: int, story: Story) -> Script:
    """The whole visit, from check-in at the appointment time to the signed note."""
    seat = Seat.of(chair, appointment, clinic_index, story)
    start = appointment.starts_at
    preparation = yield from _arrive(seat, start)
    yield start + 12 * MINUTE
    if seat.session.route == "iv":
        ended = yield from infusion(seat, preparation, start + 12 * MINUTE)
    elif seat.session.route == "esketamine":
        ended = yield from devices(seat, preparation, start + 12 * MINUTE)
    else:
        ended = yield from injection(seat, preparation, start + 12 * MINUTE)
    yield from _recovery(seat, ended)


def in_progress(chair: Chair, appointment: Appointment, clinic_index: int, now: datetime) -> Script:
    """Today's visit checked in 25 minutes ago and dosing now (the live chairside page)."""
    seat = Seat.of(chair, appointment, clinic_index, Story())
    start = now - 25 * MINUTE
    preparation = yield from _arrive(seat, start)
    began = start + 12 * MINUTE
    yield began
    start_dosing(seat, preparation, began)
    rise = chair.rng.randint(8, 18)
    seat.readings([began], rise)
    yield now - MINUTE
    seat.readings([began + 12 * MINUTE], rise)
    chair.totals["sessions in progress"] += 1


def _recovery(seat: Seat, ended: datetime) -> Script:
    """Recovery readings, side effects resolved, the Aldrete, discharge, then the paperwork. The
    reading interval and the observation time are the session's monitoring rules."""
    rng, route, rules = seat.chair.rng, seat.session.route, seat.rules
    every, observe = rules.vitals_every_min, rules.min_observation_min
    assert every, "a clinic route's rules set a reading interval"
    if route == "esketamine":  # blood pressure at the rules' interval after the first device (40
        first = seat.began  # minutes on the label), again 20 minutes before the observation ends
        yield first + every * MINUTE
        seat.readings([first + every * MINUTE], rng.randint(4, 14))
        scores(seat)
        checks, leave = [first + (observe - 20) * MINUTE], first + (observe + 2) * MINUTE
    else:
        if route != "iv" and seat.story.scores:
            yield ended + every * MINUTE
            scores(seat)
        checks = [ended + every * k * MINUTE for k in range(1, observe // every + 1)]
        leave = ended + (observe + 2) * MINUTE
    yield checks[-1]
    seat.readings(checks, rng.randint(0, 8))
    for effect in SideEffect.objects.filter(session_id=seat.pk, resolved_at__isnull=True):
        resolve_side_effect(seat.nurse, effect.pk, at=checks[-1])
    score_aldrete(seat.nurse, seat.pk, ALDRETE)
    yield leave
    discharge(seat.nurse, seat.pk, escort_handover_name=seat.escort)
    yield from _paperwork(seat, leave)


def _paperwork(seat: Seat, left: datetime) -> Script:
    """The note signed later that day (and amended the next), the REMS form submitted."""
    rng, story = seat.chair.rng, seat.story
    signed = left + rng.randint(20, 150) * MINUTE
    if story.signed:
        yield signed
        sign_note(seat.prescriber, seat.pk)
        if story.amended:
            yield signed + timedelta(days=1)
            note = TreatmentSession.objects.get(pk=seat.pk).note
            amend_note(seat.prescriber, seat.pk, note=f"{note}\n\n{AMENDMENT}", reason=AMENDMENT_REASON)
            seat.chair.totals["notes amended"] += 1
    if story.submit_rems:
        yield max(left, signed) + timedelta(days=1)
        form = RemsForm.objects.get(session_id=seat.pk)
        submit_form(seat.nurse, form.pk, confirmation=f"SYN-{rng.randint(100000, 999999)}")

"""Giving the dose at a demo visit: the pump started and stopped, with what happens meanwhile (an
alert that pauses it, an emergence reaction and its midazolam, low oxygen, nausea, the in-session
scores); esketamine devices at the protocol's interval; or the injection. The bag, the infusion time,
the device size and interval are the plan's protocol's; the routine readings follow the session's
monitoring rules. The rest of an infusion stopped early is wasted before a witness. Each script part
returns when dosing ended. Everything is synthetic.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from datetime import datetime
from decimal import Decimal
from functools import partial

from ketaflow.ledger.stock import waste
from ketaflow.sessions.doses import record_event
from ketaflow.sessions.models import DosePreparation, TreatmentSession
from ketaflow.sessions.scores import score_in_session

from .seat import MINUTE, Seat

Steps = Generator[datetime, None, datetime]
Happening = tuple[datetime, Callable[[], object]]
PAUSE_NOTE = "Paused the pump; BP rechecked in 5 minutes"
OXYGEN_NOTE = "Prescriber advised chin lift and oxygen 2 L/min; SpO2 97% within 3 minutes"


def infusion_of(seat: Seat) -> tuple[Decimal, int]:
    """The IV protocol's bag (mL) and infusion time (minutes)."""
    bag, minutes = seat.dose.bag_ml, seat.dose.duration_min
    assert bag is not None and minutes is not None, "the demo's IV protocols set a bag and a time"
    return Decimal(bag), minutes


def _device(seat: Seat) -> tuple[Decimal, int]:
    """The esketamine protocol's device (mg) and the minutes between devices."""
    device, gap = seat.dose.device_mg, seat.dose.minutes_between_devices
    assert device is not None and gap is not None, "an esketamine protocol sets its devices"
    return Decimal(device), gap


def start_dosing(seat: Seat, preparation: DosePreparation, at: datetime) -> None:
    """The pump started, or the first device or the injection given."""
    seat.began = at
    if seat.session.route == "iv":
        record_event(seat.nurse, seat.pk, kind="start", at=at)
    else:
        amount = _device(seat)[0] if seat.session.route == "esketamine" else preparation.drawn_mg
        record_event(seat.nurse, seat.pk, kind="give", at=at, amount_mg=amount)


def infusion(seat: Seat, preparation: DosePreparation, began: datetime) -> Steps:
    """Start the pump, take readings at the rules' interval, answer what happens, stop; waste the rest."""
    story, rng, every = seat.story, seat.chair.rng, seat.rules.vitals_every_min
    assert every, "the IV rules set a reading interval"
    minutes = infusion_of(seat)[1]
    stop_at = began + (minutes - story.early_stop) * MINUTE
    rise = rng.randint(0, 15) if story.high_bp else rng.randint(8, 22)
    start_dosing(seat, preparation, began)
    happenings = _happenings(seat, began, stop_at, rise)
    taken = {at for at, _ in happenings}
    routine = [began + every * k * MINUTE for k in range(minutes // every + 1)]
    routine = [at for at in routine if at <= stop_at]
    happenings.append((stop_at, partial(seat.readings, [at for at in routine if at not in taken], rise)))
    for at, step in sorted(happenings, key=lambda happening: happening[0]):
        yield at
        step()
    note = "Patient asked to stop early" if story.early_stop else ""
    record_event(seat.nurse, seat.pk, kind="stop", at=stop_at, note=note)
    if (story.pause or story.early_stop) and not story.unwasted:
        yield stop_at + 2 * MINUTE
        _waste(seat, preparation)
    return stop_at


def _happenings(seat: Seat, began: datetime, stop_at: datetime, rise: int) -> list[Happening]:
    """What the story adds to the infusion, each at its time."""
    story = seat.story
    found: list[Happening] = []
    if story.pause:
        peak = began + 15 * MINUTE
        high = seat.reading(systolic_bp=186, diastolic_bp=104)
        found += [
            (peak, partial(seat.alert, high, "pause_infusion", PAUSE_NOTE)),
            (peak + 6 * MINUTE, partial(record_event, seat.nurse, seat.pk, kind="resume", note="BP 158/92")),
        ]
    if story.rescue:
        seen = began + 14 * MINUTE
        note = "Distressed, pulling at the line"
        found += [
            (seen, partial(seat.side_effect, "emergence_reaction", "moderate", seen, note)),
            (seen + MINUTE, partial(_midazolam, seat, seat.reading(rise, heart_rate=134))),
        ]
    if story.low_oxygen:
        low = seat.reading(rise, oxygen_saturation=90)
        found.append((began + 25 * MINUTE, partial(seat.alert, low, "call_prescriber", OXYGEN_NOTE)))
    if story.nausea:
        sick = began + 20 * MINUTE
        found += [
            (sick, partial(seat.side_effect, "nausea", "mild", sick)),
            (sick + MINUTE, partial(seat.rescue, "ondansetron", "4", "Nausea")),
        ]
    if story.side_effect:
        found.append((began + 18 * MINUTE, partial(seat.side_effect, story.side_effect, "mild", began)))
    if story.scores:
        found.append((stop_at - 2 * MINUTE, partial(scores, seat)))
    return found


def _midazolam(seat: Seat, reading: dict[str, int]) -> None:
    """A fast pulse with the emergence reaction: midazolam given in answer to its alert."""
    raised = seat.alert(reading, "", "")
    reason = "Emergence reaction: distressed, not redirectable"
    seat.rescue("midazolam", "1", reason, alert_id=raised[0].pk)


def _waste(seat: Seat, preparation: DosePreparation) -> None:
    """The drug left in the bag, wasted before the prescriber as witness."""
    left = (TreatmentSession.objects.get(pk=seat.pk).reconciliation or {})["unaccounted_mg"]
    waste(
        seat.nurse,
        lot_id=preparation.lot_id,
        location_id=preparation.location_id,
        quantity_mg=left,
        witness_id=seat.prescriber.user_id,
        reason="Left in the infusion bag when the pump was stopped",
        session_id=seat.pk,
    )
    seat.chair.totals["wastes witnessed"] += 1


def scores(seat: Seat) -> None:
    """CADSS-6 (dissociation) and MOAA/S (sedation), as the nurse rates them."""
    rng: random.Random = seat.chair.rng
    answers: dict[str | int, int | None] = {str(item): rng.choice((0, 0, 1, 1, 2)) for item in range(1, 7)}
    score_in_session(seat.nurse, seat.pk, "cadss6", answers)
    score_in_session(seat.nurse, seat.pk, "moaas", {"1": rng.choice((4, 5, 5))})
    seat.chair.totals["scores"] += 2


def injection(seat: Seat, preparation: DosePreparation, given: datetime) -> Steps:
    """The intramuscular dose given with a set of readings, then dosing stopped."""
    start_dosing(seat, preparation, given)
    seat.readings([given])
    yield given + MINUTE
    record_event(seat.nurse, seat.pk, kind="stop", at=given + MINUTE)
    return given + MINUTE


def devices(seat: Seat, preparation: DosePreparation, first: datetime) -> Steps:
    """One device at a time at the protocol's interval (28 mg, 5 minutes apart, on the label), the
    blood pressure with the first, then dosing stopped."""
    device, gap = _device(seat)
    count = int(seat.session.planned_mg // device)
    start_dosing(seat, preparation, first)
    seat.readings([first], seat.chair.rng.randint(6, 16))
    for n in range(1, count):
        yield first + gap * n * MINUTE
        record_event(seat.nurse, seat.pk, kind="give", at=first + gap * n * MINUTE, amount_mg=device)
    last = first + (gap * (count - 1) + 1) * MINUTE
    yield last
    record_event(seat.nurse, seat.pk, kind="stop", at=last)
    return last

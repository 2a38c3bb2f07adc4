"""A plan's series laid into real slots: preview it, then book it all at once.

`preview_series` turns the protocol phase into target dates (`clinical.series.series_targets`) and
fits them into the clinic's free slots (`place_series`, with `free_slots` behind it): the protocol's
spacing (`min_gap_days`) and tolerance, widened by the clinic's `series_search_days`, starting after
the plan's last booked or given session. Sessions already booked in the phase are left out.
`book_series` books the preview in one transaction; a slot taken meanwhile is re-planned on the same
day when it can be and reported with its reason when not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.protocols import Phase, Protocol
from ketaflow.clinical.series import Placed, Target, Unplaced, phase_span_days, place_series, series_targets
from ketaflow.plans.models import OPEN_PHASES, TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.validation import FieldError, ValidationFailed

from .availability import Day, Slot, free_slots, load_day
from .booking import _minutes, book, type_for
from .calendar import zone_of
from .models import ACTIVE, Appointment, AppointmentType
from .reminders import scheduling_settings

OPEN_ENDED_COUNT = 3


@dataclass(frozen=True)
class Proposed:
    """One session of the preview: where it should fall, the slot found for it and the clinic's day
    it was found in (booking reuses it rather than reading the day again)."""

    placed: Placed
    slot: Slot
    day: Day = field(repr=False, compare=False)

    @property
    def target(self) -> Target:
        return self.placed.target


@dataclass(frozen=True)
class SeriesPreview:
    plan: TreatmentPlan
    protocol: Protocol
    phase: str
    appointment_type: AppointmentType
    minutes: int
    start_date: date
    tolerance_days: int
    min_gap_days: int
    every_days: int | None
    already_booked: int
    proposed: tuple[Proposed, ...]
    unplaced: tuple[Unplaced, ...]


@dataclass(frozen=True)
class SeriesBooking:
    booked: tuple[Appointment, ...]
    unplaced: tuple[Unplaced, ...] = field(default=())


def _open_plan(actor: Actor, plan_id: uuid.UUID | str) -> TreatmentPlan:
    plan: TreatmentPlan = (
        TreatmentPlan.objects.for_organization(actor.organization_id)
        .select_related("clinic")
        .one(plan_id, "plan")
    )
    if plan.status != TreatmentPlan.Status.SIGNED:
        raise ValidationFailed.single("plan_id", "The plan is not signed yet; a prescriber signs it first.")
    if plan.phase not in OPEN_PHASES:
        raise ValidationFailed.single("plan_id", f"The plan is {plan.get_phase_display().lower()}.")
    return plan


def _start(plan: TreatmentPlan, protocol: Protocol, phase: str) -> date:
    """Where the phase's targets count from: the plan's start for induction; the maintenance start
    (or the end of induction) for maintenance; the phase start for taper."""
    if phase == plan.phase and phase != "induction":
        return plan.phase_started_on
    if phase == "induction":
        return plan.start_date
    induction = protocol.phases.get("induction")
    span = phase_span_days(induction) if induction else None
    return plan.start_date + timedelta(days=span or 0)


def preview_series(
    actor: Actor,
    plan_id: uuid.UUID | str,
    *,
    phase: str = "induction",
    start_date: date | None = None,
    count: int | None = None,
) -> SeriesPreview:
    """The remaining sessions of the plan's `phase`, each in a free slot or reported unplaced with
    the reason. Open-ended phases lay out `count` sessions (default 3). The read is audited."""
    actor.require(Permission.VIEW_SCHEDULE)
    plan = _open_plan(actor, plan_id)
    protocol = protocol_of(plan)
    rules: Phase | None = protocol.phases.get(phase)
    errors: list[FieldError] = []
    if rules is None:
        named = ", ".join(protocol.phases) or "none"
        errors.append(FieldError("phase", f"This protocol has no {phase} phase (it has: {named})."))
    if count is not None and not 1 <= count <= 60:
        errors.append(FieldError("count", "Lay out between 1 and 60 sessions."))
    kind = type_for(actor.organization_id, protocol.appointment_type)
    if kind is None:
        errors.append(
            FieldError("phase", f"There is no active {protocol.appointment_type} appointment type.")
        )
    if errors or rules is None or kind is None:
        raise ValidationFailed(errors)
    zone = zone_of(plan.clinic)
    booked = list(
        Appointment.objects.for_organization(actor.organization_id)
        .filter(plan=plan, status__in=ACTIVE)
        .order_by("starts_at")
    )
    numbers = {a.series_number for a in booked if a.phase == phase and a.series_number}
    every = plan.maintenance_every_days if plan.maintenance_every_days in rules.options_every_days else None
    start = start_date or _start(plan, protocol, phase)
    limit = None
    if rules.session_count is None:
        limit = len(numbers) + (count or OPEN_ENDED_COUNT)
    targets = [
        t for t in series_targets(rules, start, limit=limit, every_days=every) if t.number not in numbers
    ]
    if count is not None:
        targets = targets[:count]
    tolerance = rules.tolerance_days + scheduling_settings(actor.organization_id).series_search_days
    minutes = _minutes(kind, plan)
    found: dict[datetime, tuple[Slot, Day]] = {}
    days: dict[date, list[datetime]] = {}

    def slots(on: date) -> list[datetime]:
        if on not in days:
            day = load_day(actor.organization_id, plan.clinic, on)
            offered = free_slots(actor.organization_id, plan.clinic, kind, on, minutes=minutes, loaded=day)
            found.update({s.starts_at: (s, day) for s in offered})
            days[on] = [s.starts_at for s in offered]
        return days[on]

    last = booked[-1].starts_at.astimezone(zone) if booked else None
    today = timezone.now().astimezone(zone).date()
    placement = place_series(
        targets,
        slots,
        min_gap_days=rules.min_gap_days,
        tolerance_days=tolerance,
        after=last,
        not_before=today + timedelta(days=1),
    )
    with transaction.atomic():
        record(
            actor,
            Action.READ,
            "TreatmentPlan",
            plan.pk,
            patient_id=plan.patient_id,
            detail={"purpose": "series preview", "phase": phase},
        )
    return SeriesPreview(
        plan=plan,
        protocol=protocol,
        phase=phase,
        appointment_type=kind,
        minutes=minutes,
        start_date=start,
        tolerance_days=tolerance,
        min_gap_days=rules.min_gap_days,
        every_days=every,
        already_booked=len(numbers),
        proposed=tuple(Proposed(p, *found[p.starts_at]) for p in placement.placed),
        unplaced=placement.unplaced,
    )


def book_series(
    actor: Actor,
    plan_id: uuid.UUID | str,
    *,
    phase: str = "induction",
    start_date: date | None = None,
    count: int | None = None,
) -> SeriesBooking:
    """Book every proposed session of `preview_series` in one transaction. A slot taken since the
    preview is re-planned on the same day (nearest time) or reported unplaced with the reason."""
    actor.require(Permission.EDIT_SCHEDULE)
    preview = preview_series(actor, plan_id, phase=phase, start_date=start_date, count=count)
    plan = preview.plan
    booked: list[Appointment] = []
    unplaced = list(preview.unplaced)
    with transaction.atomic():
        for proposed in preview.proposed:
            appointment = _book_one(actor, preview, proposed)
            if appointment is None:
                unplaced.append(
                    Unplaced(
                        proposed.target,
                        (
                            f"session {proposed.target.number}: the slot was taken since the preview "
                            f"and no other slot is free on {proposed.placed.starts_at:%a %d %b}; "
                            "book it by hand"
                        ),
                    )
                )
            else:
                booked.append(appointment)
        record(
            actor,
            Action.CREATE,
            "AppointmentSeries",
            plan.pk,
            patient_id=plan.patient_id,
            detail={
                "phase": phase,
                "booked": [str(a.pk) for a in booked],
                "unplaced": [u.target.number for u in unplaced],
            },
        )
    unplaced.sort(key=lambda u: u.target.number)
    return SeriesBooking(tuple(booked), tuple(unplaced))


def _book_one(actor: Actor, preview: SeriesPreview, proposed: Proposed) -> Appointment | None:
    plan = preview.plan
    wanted = proposed.slot

    def candidates() -> Iterator[tuple[Slot, Day]]:
        yield wanted, proposed.day
        # Read fresh only when the wanted slot was taken meanwhile.
        day = load_day(actor.organization_id, plan.clinic, proposed.day.on)
        for slot in _same_day(actor, preview, wanted, day):
            yield slot, day

    for slot, day in candidates():
        try:
            return book(
                actor,
                plan.patient_id,
                clinic_id=plan.clinic_id,
                type_key=preview.appointment_type.key,
                starts_at=slot.starts_at,
                room_id=slot.room.pk if slot.room else None,
                staff_ids=slot.staff_ids,
                plan_id=plan.pk,
                series_number=proposed.target.number,
                phase=preview.phase,
                loaded=day,
            )
        except ValidationFailed:
            continue
    return None


def _same_day(actor: Actor, preview: SeriesPreview, wanted: Slot, day: Day) -> list[Slot]:
    """Other free slots of the wanted `day` (read fresh, inside the booking), nearest in time first."""
    offered = free_slots(
        actor.organization_id,
        preview.plan.clinic,
        preview.appointment_type,
        day.on,
        minutes=preview.minutes,
        loaded=day,
    )
    return sorted(offered, key=lambda s: abs((s.starts_at - wanted.starts_at).total_seconds()))[:8]

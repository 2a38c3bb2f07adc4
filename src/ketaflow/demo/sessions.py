"""The demo's last month at the clinics: treatment sessions, the controlled-substance ledger, REMS
forms and at-home sessions, all written by the services as the staff and patients would write them.

`appointments.py` leaves the recent clinic treatment visits of open plans booked (`session_cutoffs`):
a month of esketamine visits, so the REMS board has forms overdue, due and submitted, and the most
recent `RECENT_VISITS` IV and IM visits (each visit replayed adds about a tenth of a second to the
demo's load, so their number is bounded whatever the practice's size). `load_sessions` then replays
the month on the demo clock (`replay.Timeline`): the ledger's receipts, transfer and counts
(`ledger_stock.py`), each esketamine patient's REMS enrolment, every visit at the chair from
check-in to the signed note (`chairside.py`; discharge completes the appointment and gives its
treatment) and the at-home patient's evenings (`home_sessions.py`). Today's visits still to come
stay booked for a live session; when there are two or more, the first is checked in early and left
dosing now. The same practice and moment give the same month; nothing is dated after `now`.
Everything is synthetic.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from ketaflow.accounts.actor import Actor
from ketaflow.clinics.models import Clinic
from ketaflow.ledger.models import Entry
from ketaflow.measurement.models import Treatment
from ketaflow.plans.models import OPEN_PHASES, TreatmentPlan
from ketaflow.scheduling.models import Appointment
from ketaflow.sessions.flow_common import drug_of_route
from ketaflow.sessions.models import RemsForm, TreatmentSession
from ketaflow.sessions.rems import enrol

from .chairside import Chair, Story, in_progress, visit
from .home_sessions import evenings
from .ledger_stock import Stock, pharmacy
from .planned import Planned
from .replay import Script, Timeline

MONTH_DAYS = 30  # esketamine visits held as sessions; the ledger's month starts the day before
RECENT_VISITS = 12  # the most recent IV and IM visits held as sessions
CLINIC_ROUTES = frozenset({"iv", "im", "esketamine"})
OTHER_SIDE_EFFECTS = ("dizziness", "dissociation", "anxiety", "double_vision", "drowsiness")


def session_cutoffs(planned: Sequence[Planned], now: datetime) -> dict[str, datetime]:
    """From when each route's past visits are held as sessions: the last month for esketamine, the
    time of the `RECENT_VISITS`-th most recent IV or IM treatment given for the others."""
    month = now - timedelta(days=MONTH_DAYS)
    given = sorted(
        (
            treatment.occurred_at
            for item in planned
            if _held(item) and item.protocol.route.value != "esketamine"
            for treatment in item.treatments
            if treatment.status == Treatment.Status.GIVEN and month <= treatment.occurred_at < now
        ),
        reverse=True,
    )
    recent = given[RECENT_VISITS - 1] if len(given) >= RECENT_VISITS else month
    return {"esketamine": month, "iv": recent, "im": recent}


def _held(item: Planned) -> bool:
    return item.plan is not None and item.plan.is_open and item.plan.route in CLINIC_ROUTES


def replayed(item: Planned, start: datetime, now: datetime, cutoffs: dict[str, datetime]) -> bool:
    """Is this past visit left booked for the session replay (a clinic treatment of an open plan,
    since its route's cutoff)?"""
    return _held(item) and item.plan is not None and cutoffs[item.plan.route] <= start < now


def load_sessions(
    org_id: uuid.UUID,
    clinics: list[Clinic],
    planned: Sequence[Planned],
    actors: dict[str, Actor],
    now: datetime,
) -> dict[str, int]:
    """Replay the last month through the services; row counts by kind."""
    rng = random.Random("ketaflow-demo-sessions")
    zone = ZoneInfo(clinics[0].timezone)
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=MONTH_DAYS + 1)
    opening = datetime.combine(first_day, time(7, 30), zone)
    timeline = Timeline(until=now)
    chair = Chair(actors, Stock(), rng)
    index = {clinic.pk: n for n, clinic in enumerate(clinics)}
    visits = list(_open_visits(org_id).filter(starts_at__lt=now))
    needs: dict[tuple[uuid.UUID, str], Decimal] = defaultdict(Decimal)
    for appointment in visits:
        plan = appointment.plan
        assert plan is not None
        needs[(appointment.clinic_id, drug_of_route(plan.route))] += plan.dose_mg
    timeline.add(opening, pharmacy(chair.stock, clinics, actors, needs, (first_day, today), rng))
    esketamine = [p for p in planned if p.plan is not None and p.plan.route == "esketamine"]
    timeline.add(opening + timedelta(minutes=30), _enrolments(actors["nurse"], esketamine, first_day))
    for appointment, story in zip(visits, _stories(visits, today, rng), strict=True):
        timeline.add(appointment.starts_at, visit(chair, appointment, index[appointment.clinic_id], story))
    started = now - timedelta(minutes=25)
    live = _today(_open_visits(org_id).filter(starts_at__gte=now), started)
    if len(live) >= 2:  # one checked in early and dosing now; the rest left for a live session
        first = min(live, key=lambda a: (a.appointment_type.key != "iv", a.starts_at))
        timeline.add(started, in_progress(chair, first, index[first.clinic_id], now))
    for item in [p for p in planned if p.plan is not None and p.plan.route == "sublingual_home"][:1]:
        nurse = actors[("nurse", "nurse2")[item.clinic_index]]
        start = datetime.combine(today - timedelta(days=14), time(17), zone)
        timeline.add(start, evenings(nurse, item.patient, today, rng, chair.totals))
    timeline.run()
    return _counts(org_id, chair, today)


def _open_visits(org_id: uuid.UUID) -> QuerySet[Appointment]:
    """Booked clinic treatment visits of signed, open plans, oldest first (ties by MRN, so the same
    practice gets the same stories: the appointments' ids are random)."""
    return (
        Appointment.objects.for_organization(org_id)
        .filter(
            status=Appointment.Status.BOOKED,
            appointment_type__route__in=CLINIC_ROUTES,
            plan__status=TreatmentPlan.Status.SIGNED,
            plan__phase__in=[phase.value for phase in OPEN_PHASES],
        )
        .select_related("patient", "clinic", "plan", "appointment_type")
        .order_by("starts_at", "patient__mrn", "pk")
    )


def _today(appointments: Iterable[Appointment], moment: datetime) -> list[Appointment]:
    """The visits on the day of `moment` (each clinic's own day)."""
    return [a for a in appointments if _local_day(a) == moment.astimezone(ZoneInfo(a.clinic.timezone)).date()]


def _enrolments(nurse: Actor, esketamine: Sequence[Planned], first_day: date) -> Script:
    """Each esketamine patient enrolled in the REMS before their first dose."""
    for item in esketamine:
        assert item.plan is not None
        enrolled = min(item.plan.start_date - timedelta(days=3), first_day)
        enrol(nurse, item.patient.pk, enrolled_on=enrolled, rems_patient_id=f"SYN-{item.patient.mrn[-6:]}")
    yield from ()


def _stories(visits: list[Appointment], today: date, rng: random.Random) -> list[Story]:
    """What happens at each visit: one of each event on the infusions (the most telling first when
    there are few), some nausea and side effects, scores now and then, the newest notes unsigned;
    of the esketamine forms, the oldest overdue one and the newest stay open, the others submitted."""
    stories = [Story() for _ in visits]
    infusions = [n for n, a in enumerate(visits) if a.appointment_type.key == "iv"]
    settled = infusions[:-3]  # the newest are still to be signed
    roles = ("unwasted", "pause", "rescue", "low_oxygen", "pause")  # one visit each, while they last
    for n, role in zip(rng.sample(settled, min(len(settled), len(roles))), roles, strict=False):
        story = stories[n]
        if role == "unwasted":
            story.early_stop, story.unwasted = 4, True
        else:
            setattr(story, role, True)
    if settled:
        stories[rng.choice(settled)].high_bp = True
        older = [n for n in settled if (today - _local_day(visits[n])).days >= 2 and not stories[n].unwasted]
        stories[rng.choice(older or settled[:1])].amended = True  # amended the day after it was signed
    for n in infusions:
        if stories[n] == Story() and rng.random() < 0.12:
            stories[n].early_stop = rng.randint(2, 6)
    for story in stories:
        story.nausea = rng.random() < 0.12
        if rng.random() < 0.1:
            story.side_effect = rng.choice(OTHER_SIDE_EFFECTS)
        story.scores = rng.random() < 0.15
    for story in stories[-3:]:
        story.signed = story.amended = False
    esketamine = [n for n, a in enumerate(visits) if a.appointment_type.key == "esketamine"]
    ages = {n: (today - _local_day(visits[n])).days for n in esketamine}
    overdue = [n for n in esketamine if ages[n] >= 8][:1]
    for n in esketamine[:-1]:
        stories[n].submit_rems = n not in overdue
    return stories


def _local_day(appointment: Appointment) -> date:
    return appointment.starts_at.astimezone(ZoneInfo(appointment.clinic.timezone)).date()


def _counts(org_id: uuid.UUID, chair: Chair, today: date) -> dict[str, int]:
    totals: Counter[str] = Counter(chair.totals) + chair.stock.totals
    sessions = TreatmentSession.objects.for_organization(org_id)
    totals.update(f"sessions {status}" for status in sessions.values_list("status", flat=True))
    totals["sessions flagged"] = sessions.filter(reconciled=False).count()
    totals["ledger entries"] = Entry.objects.for_organization(org_id).count()
    for status, due_on in RemsForm.objects.for_organization(org_id).values_list("status", "due_on"):
        late = status == RemsForm.Status.DUE and due_on < today
        totals["REMS forms overdue" if late else f"REMS forms {status}"] += 1
    return {kind: count for kind, count in totals.items() if count}

"""Measurement-based care for the demo patients: plans, treatments, questionnaires, alerts, due lists.

`MeasureGenerator` draws one `Journey` per synthetic patient from its own seeded `random.Random`
(plain values, no database), then `write` bulk-inserts the rows of a batch inside the loader's
transaction. The same seed, patients and `now` give the same journeys. Dates run back up to 18
months from `now` (the real current time) and never past it; only booked treatments lie ahead.

Every answer set is made item by item to sum to the intended total, then scored by the clinical core
(`ketaflow.clinical.instruments`), and stored through `answer_rows` / `observations_for`, so a demo
response is shaped exactly like a recorded one. Trajectories are calibrated to the published IV
results (clinical reference §6: McInnes 2022 and Oliver 2022): at the assessment after a six-infusion
induction about 54% respond (PHQ-9 at least 50% below baseline) and 28% remit (PHQ-9 below 5);
some responders relapse later; non-responders stay above half their baseline. About 2.5% of
patients endorse PHQ-9 item 9 or a moderate/high C-SSRS answer once (a safety alert), and the first
suitable patient of each clinic has an alert still open. Demo data, not epidemiology.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ketaflow.accounts.models import StaffMember
from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.instruments import Instrument, Score, get_instrument, score_instrument
from ketaflow.clinical.measurement_schedule import load_schedule, next_due
from ketaflow.clinics.models import Clinic
from ketaflow.measurement.library import instruments_for
from ketaflow.measurement.models import (
    MeasureDue,
    MeasurementPlan,
    Notification,
    QuestionnaireResponse,
    SafetyAlert,
    ScoreObservation,
    Stage,
    Treatment,
)
from ketaflow.measurement.responses import answer_rows, observations_for
from ketaflow.patients.models import Patient

from .chart import Deck
from .patients import SyntheticPatient

# Per 100 patients: new enquiries (baseline only), mid-induction, stopped during induction, and
# those past a full induction (whose stage then follows their outcome).
PHASES = {"enquiry": 7, "induction": 12, "dropout": 4, "treated": 77}
# Per 100 patients at the assessment after induction: remission 28%, response 28 + 26 = 54%.
OUTCOMES = {"remit": 28, "respond": 26, "partial": 24, "none": 22}
ALERTS = {"alert": 1, "": 39}
CLINICIAN, LINK = QuestionnaireResponse.Source.CLINICIAN, QuestionnaireResponse.Source.LINK
FLUSH_ROWS = 10_000  # responses held before a bulk insert (about 25,000 rows with their observations)
# PHQ-9 baseline (low, high, mode) by primary condition: TRD mostly 15-24.
PHQ9_BASELINE = {
    "trd": (14, 24, 19), "mdd": (11, 23, 16), "bipolar_depression": (12, 23, 17), "ptsd": (9, 21, 15),
    "gad": (7, 17, 12), "ocd": (7, 18, 12), "fibromyalgia": (7, 17, 12), "crps": (6, 16, 11),
    "neuropathic_pain": (6, 16, 11),
}
PHQ9_ITEM_WEIGHTS = (1.3, 1.3, 1.2, 1.4, 0.9, 1.0, 1.0, 0.6)  # items 1-8; item 9 only on an alert
ANXIOUS = {"gad", "ptsd", "ocd"}
PAIN = {"fibromyalgia", "crps", "neuropathic_pain"}
CLINIC_PRESCRIBERS = ("np", "pa")  # by region (demo.practice): Portland, Denver
CLINIC_NURSES = ("nurse", "nurse2")
SESSION_HOURS = (8.5, 9.0, 10.0, 11.5, 13.0, 14.5, 15.5)
INFUSION = "IV ketamine 0.5 mg/kg over 40 min"
ACK_NOTES: dict[str, tuple[str, int]] = {
    SafetyAlert.Action.CONTACTED_SAFETY_PLAN: (
        "Called the same day: passive thoughts, no plan or intent. Safety plan reviewed; crisis line "
        "confirmed; follow-up call booked.", 40),
    SafetyAlert.Action.CONTACTED_NO_ACUTE_RISK: (
        "Spoke with the patient: item answered by mistake on a bad evening; no current ideation, no "
        "acute risk. Support contacts confirmed.", 25),
    SafetyAlert.Action.SEEN_IN_PERSON: (
        "Assessed in clinic before the session: low acute risk; safety plan updated with the patient "
        "and shared with the therapist.", 15),
    SafetyAlert.Action.KNOWN_REVIEWED: (
        "Long-standing passive ideation, unchanged; reviewed against the current safety plan with "
        "the patient.", 12),
    SafetyAlert.Action.CRISIS_REFERRAL: (
        "Ideation with a method named; warm handoff to the county crisis team, who saw the patient "
        "that evening. Plan paused pending review.", 6),
    SafetyAlert.Action.UNABLE_TO_REACH: (
        "No answer on two calls; emergency contact reached and confirmed the patient is safe at home. "
        "Call back booked for the morning.", 2),
}
_ACTIONS = tuple(ACK_NOTES)
_ACTION_WEIGHTS = tuple(weight for _, weight in ACK_NOTES.values())


@dataclass(frozen=True)
class Occasion:
    """One sitting: every planned questionnaire, from `at`; `phq9` is the intended PHQ-9 total."""

    at: datetime
    stage: str
    phq9: int
    in_clinic: bool
    alert: str = ""  # "phq9" or "cssrs" when this sitting endorses risk


@dataclass(frozen=True)
class Journey:
    """One patient's measurement-based care, as plain values."""

    stage: str
    stage_started_at: datetime
    clinician: str  # demo username of the responsible clinician
    treatments: tuple[tuple[datetime, str, str], ...]  # (when, status, description)
    occasions: tuple[Occasion, ...]
    groups: tuple[str, ...]
    baseline: int  # PHQ-9; the other instruments follow its relative change from their own baselines
    anchors: tuple[int, int, int]  # GAD-7, PCL-5 and PEG (sum of its three items) at baseline
    profile: tuple[float, ...]  # how this patient's PHQ-9 total spreads over items 1-8
    alert_open: bool = False


@dataclass(frozen=True)
class Traits:
    """What a journey is drawn from, fixed before its timeline: clinic, severity, clinician."""

    clinic: int
    zone: tzinfo
    today: date
    groups: tuple[str, ...]
    baseline: int
    anchors: tuple[int, int, int]
    profile: tuple[float, ...]
    clinician: str

    def at(self, day: date, hour: float) -> datetime:
        """`hour` (9.5 is half past nine) on `day` in the clinic's time zone, held in UTC as the database
        returns it (aware arithmetic in a local zone keeps the wall clock across a DST change)."""
        return datetime.combine(day, time(int(hour), int(hour % 1 * 60)), self.zone).astimezone(UTC)


@dataclass
class PendingRows:
    """Rows built and not yet inserted, in the order their foreign keys need."""

    plans: list[MeasurementPlan] = field(default_factory=list)
    treatments: list[Treatment] = field(default_factory=list)
    responses: list[QuestionnaireResponse] = field(default_factory=list)
    observations: list[ScoreObservation] = field(default_factory=list)
    alerts: list[SafetyAlert] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    due: list[MeasureDue] = field(default_factory=list)

    def flush(self) -> dict[str, int]:
        """bulk_create every pending row (inside the caller's transaction); the counts written."""
        written = {"plans": len(self.plans), "treatments": len(self.treatments),
                   "responses": len(self.responses), "observations": len(self.observations),
                   "safety_alerts": len(self.alerts), "notifications": len(self.notifications),
                   "open_alerts": sum(1 for a in self.alerts if a.status == SafetyAlert.Status.OPEN),
                   "due": len(self.due)}
        MeasurementPlan.objects.bulk_create(self.plans)
        Treatment.objects.bulk_create(self.treatments)
        QuestionnaireResponse.objects.bulk_create(self.responses)
        ScoreObservation.objects.bulk_create(self.observations)
        SafetyAlert.objects.bulk_create(self.alerts)
        Notification.objects.bulk_create(self.notifications)
        MeasureDue.objects.bulk_create(self.due)
        for rows in (self.plans, self.treatments, self.responses, self.observations, self.alerts,
                     self.notifications, self.due):
            rows.clear()
        return written


# (stage, stage started, treatments, questionnaire sittings)
Course = tuple[str, datetime, list[tuple[datetime, str, str]], list[Occasion]]


@lru_cache(maxsize=2048)
def _scored(instrument_id: str, values: tuple[int | None, ...]) -> tuple[Score, list[dict[str, Any]]]:
    """The core's score and the stored answer rows of one answer set (short ones repeat: cached)."""
    instrument = get_instrument(instrument_id)
    result = score_instrument(instrument, dict(zip(instrument.item_ids, values, strict=True)))
    return result, answer_rows(instrument, result.answers)


def spread(rng: random.Random, total: int, weights: Sequence[float], top: int) -> list[int]:
    """Integers of at most `top` summing to `total` (at most top x len), roughly in proportion to weights."""
    shares = [w * (0.6 + 0.8 * rng.random()) for w in weights]
    whole = sum(shares)
    raw = [total * share / whole for share in shares]
    values = [min(top, int(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]) + 0.5 * rng.random(), reverse=True)
    rest = total - sum(values)
    while rest > 0:
        for i in order:
            if rest and values[i] < top:
                values[i] += 1
                rest -= 1
    return values


class MeasureGenerator:
    """Journeys and rows for the demo patients of one practice, from the seed and `now`."""

    def __init__(self, seed: int, organization_id: uuid.UUID, clinics: Sequence[Clinic],
                 staff: Sequence[StaffMember], now: datetime) -> None:
        self.rng = random.Random(f"ketaflow-demo-measures:{seed}")
        self.organization_id = organization_id
        self.now = now
        self.clinic_ids = [clinic.pk for clinic in clinics]
        self.zones = [ZoneInfo(clinic.timezone) for clinic in clinics]
        self.staff = {member.user.username: member for member in staff}
        self.phases = Deck(self.rng, PHASES)
        self.outcomes = Deck(self.rng, OUTCOMES)
        self.alerts = Deck(self.rng, ALERTS)
        self.open_alert_wanted = [True] * len(clinics)
        self.schedule = load_schedule()
        self.library = instruments_for(organization_id)
        self._planned_cache: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
        self.totals: Counter[str] = Counter()

    # -- journeys (no database) ------------------------------------------------------------------

    def journey(self, synthetic: SyntheticPatient) -> Journey | None:
        """The patient's care so far, or None (a duplicate registration has no care of its own)."""
        archived = synthetic.archived_reason
        phase, outcome, alert = self.phases.draw(), self.outcomes.draw(), self.alerts.draw() == "alert"
        if archived.startswith("Duplicate"):
            return None
        traits = self._traits(synthetic)
        end_stage = ""
        if archived == "Chose not to start treatment":
            phase = "declined"
        elif archived:
            phase = "treated"
            end_stage = Stage.COMPLETED if archived.startswith("Completed") else Stage.DISCONTINUED
        if phase in {"enquiry", "declined"}:
            return self._evaluated(traits, declined=phase == "declined")
        if phase == "dropout" and outcome in {"remit", "respond"}:
            outcome = "partial"
        course = self._course(traits, phase, outcome, end_stage)
        return self._with_alert(traits, *course, alert=alert)

    def _traits(self, synthetic: SyntheticPatient) -> Traits:
        rng = self.rng
        clinic = self.clinic_ids.index(synthetic.fields["home_clinic_id"])
        ids = [str(c["catalogue_id"]) for c in synthetic.conditions]
        low, high, mode = PHQ9_BASELINE.get(ids[0], (8, 20, 14))
        baseline = min(24, round(rng.triangular(low, high, mode)) + (2 if "suicidal_ideation" in ids else 0))
        anchors = (
            round(rng.triangular(10, 20, 15) if ANXIOUS & set(ids) else rng.triangular(3, 15, 9)),
            round(rng.triangular(33, 65, 47) if ids[0] == "ptsd" else rng.triangular(25, 58, 40)),
            round(rng.triangular(15, 28, 21) if ids[0] in PAIN else rng.triangular(9, 24, 15)),
        )
        return Traits(
            clinic=clinic, zone=self.zones[clinic], today=self.now.astimezone(self.zones[clinic]).date(),
            groups=tuple(sorted({catalogue().get(c).group for c in ids})), baseline=baseline, anchors=anchors,
            profile=tuple(w * rng.uniform(0.6, 1.4) for w in PHQ9_ITEM_WEIGHTS),
            clinician=rng.choices((CLINIC_PRESCRIBERS[clinic], "owner"), (85, 15))[0],
        )

    def _evaluated(self, traits: Traits, *, declined: bool) -> Journey:
        """A new enquiry in evaluation (perhaps with a first infusion booked), or one who declined."""
        rng = self.rng
        day = traits.today - timedelta(days=rng.randint(1, 20) + (60 if declined else 0))
        seen = traits.at(day, rng.choice(SESSION_HOURS))
        booked: tuple[tuple[datetime, str, str], ...] = ()
        if not declined and rng.random() < 0.5:
            first = traits.at(traits.today + timedelta(days=rng.randint(2, 12)), rng.choice(SESSION_HOURS))
            booked = ((first, Treatment.Status.SCHEDULED, f"{INFUSION}: induction 1 of 6"),)
        stage, started = (Stage.DISCONTINUED, seen + timedelta(days=7)) if declined else (
            Stage.EVALUATION, seen - timedelta(minutes=30))
        return Journey(stage, started, traits.clinician, booked,
                       (Occasion(seen, Stage.EVALUATION, traits.baseline, True),), traits.groups,
                       traits.baseline, traits.anchors, traits.profile)

    def _course(self, traits: Traits, phase: str, outcome: str, end_stage: str) -> Course:
        """Baseline, induction (six infusions in 2-3 weeks, a questionnaire before each), and after it."""
        rng, now, half = self.rng, self.now, traits.baseline // 2
        days = [0, *sorted(rng.sample(range(1, span := rng.randint(14, 21)), 4)), span]
        hour = rng.choice(SESSION_HOURS)
        given = {"induction": rng.randint(1, 5), "dropout": rng.randint(3, 4)}.get(phase, 6)
        if phase == "induction":
            back = days[given - 1] + rng.randint(1, days[given] - days[given - 1])
        elif phase == "dropout":
            back = rng.randint(days[given - 1] + 12, 400)
        elif end_stage:  # archived: their course has ended
            back = rng.randint(130, 520)
        else:
            back = 35 + min(485, round(rng.expovariate(1 / 120)))  # a growing practice: most are recent
        first_day = traits.today - timedelta(days=back)
        sessions = [traits.at(first_day + timedelta(days=d), hour + rng.choice((0, 0, 0.5, -0.5)))
                    for d in days]
        if phase == "induction":  # the rest of the six are booked
            given = sum(1 for t in sessions if t < now)
        treatments: list[tuple[datetime, str, str]] = [
            (t, Treatment.Status.GIVEN if t < now else Treatment.Status.SCHEDULED,
             f"{INFUSION}: induction {n} of 6")
            for n, t in enumerate(sessions if phase == "induction" else sessions[:given], 1)]
        target = self._target(outcome, traits.baseline)
        evaluated = traits.at(first_day - timedelta(days=rng.randint(3, 14)), rng.choice(SESSION_HOURS))
        occasions = [Occasion(evaluated, Stage.EVALUATION, traits.baseline, True)]
        for k, session in enumerate(sessions[1:], 1):
            answered = session - timedelta(hours=rng.uniform(0.5, 40))
            if k >= given and (phase != "induction" or answered > now or rng.random() < 0.4):
                break
            share = (1 - math.exp(-k / 2)) / (1 - math.exp(-3))  # most of the change comes early
            value = round(traits.baseline + (target - traits.baseline) * share) + rng.randint(-2, 2)
            if outcome in {"partial", "none"}:
                value = max(value, half + 1)
            occasions.append(Occasion(answered, Stage.INDUCTION, _clip(value), rng.random() < 0.5))
        if phase == "induction":
            return Stage.INDUCTION, sessions[0] - timedelta(days=1), treatments, occasions
        if phase == "dropout":
            stop = treatments[-1][0] + timedelta(days=rng.randint(3, 10))
            value = max(half + 1, round(traits.baseline * rng.uniform(0.75, 1.0)))
            occasions.append(Occasion(stop, Stage.INDUCTION, _clip(value), True))
            return Stage.DISCONTINUED, stop, treatments, occasions
        return self._after_induction(traits, outcome, end_stage, first_day + timedelta(days=span + 1),
                                     target, hour, treatments, occasions)

    def _after_induction(self, traits: Traits, outcome: str, end_stage: str, start_day: date, target: int,
                         hour: float, treatments: list[tuple[datetime, str, str]],
                         occasions: list[Occasion]) -> Course:
        """Maintenance from the day after the sixth infusion: weekly questionnaires for 8 weeks, then
        monthly, boosters every 3-6 weeks; some complete the course, some stop, some stop answering."""
        rng, now, baseline = self.rng, self.now, traits.baseline
        half, available = baseline // 2, (traits.today - start_day).days
        stage = end_stage or (Stage.DISCONTINUED if outcome == "none" else Stage.MAINTENANCE)
        if not end_stage and outcome in {"remit", "respond"} and rng.random() < 0.25:
            stage = Stage.COMPLETED
        elif not end_stage and rng.random() < {"none": 0.45, "partial": 0.15}.get(outcome, 0):
            stage = Stage.MAINTENANCE if outcome == "none" else Stage.DISCONTINUED
        if stage == Stage.COMPLETED:
            length = rng.randint(60, 200)
        elif stage == Stage.DISCONTINUED:
            length = rng.randint(10, 49)
        else:  # one in ten has stopped answering: the overdue list
            length = available if rng.random() < 0.9 else available - rng.randint(14, 90)
        if stage != Stage.MAINTENANCE and length > available - 7:
            stage, length = (stage, available - 7) if end_stage else (Stage.MAINTENANCE, available)
        end_day = start_day + timedelta(days=max(length, 8))
        days_in = [rng.randint(5, 8)]  # the assessment after induction
        while True:
            interval = 7 if days_in[-1] < 56 else 28
            step = interval + rng.choices((0, 1, 2, 3, 5), (50, 22, 12, 9, 7))[0]
            step += interval if rng.random() < 0.2 else 0  # one in five is missed
            if start_day + timedelta(days=days_in[-1] + step) > end_day:
                break
            days_in.append(days_in[-1] + step)
        relapse_from = relapse_to = len(days_in)
        if outcome in {"remit", "respond"} and stage == Stage.MAINTENANCE and len(days_in) >= 4 \
                and rng.random() < 0.3:
            relapse_from = rng.randint(2, len(days_in) - 2)
            relapse_to = relapse_from + rng.randint(2, 4) if rng.random() < 0.5 else len(days_in)
        drift = rng.uniform(0, 0.3) * baseline if outcome == "partial" else 0.0
        for index, day in enumerate(days_in):
            moment = traits.at(start_day + timedelta(days=day), rng.uniform(7, 22))
            if moment >= now:
                break
            value = target - round(drift * min(1.0, index / 4)) + (rng.randint(-2, 2) if index else 0)
            if relapse_from <= index < relapse_to:
                value = max(half + 1, round(baseline * rng.uniform(0.6, 0.9)) + rng.randint(-2, 2))
            elif outcome in {"remit", "respond"}:
                value = min(value, half)
            elif outcome == "none":
                value = max(value, half + 1)
            occasions.append(Occasion(moment, Stage.MAINTENANCE, _clip(value), rng.random() < 0.2))
        started = traits.at(start_day, 9) if stage == Stage.MAINTENANCE else traits.at(
            end_day + timedelta(days=1), 9)
        if stage == Stage.MAINTENANCE and length == available and rng.random() < 0.2:
            self._make_due_now(started, occasions)
        booster = start_day + timedelta(days=rng.randint(14, 35))
        last_care = end_day if stage != Stage.MAINTENANCE else traits.today + timedelta(days=60)
        while booster <= last_care:
            moment = traits.at(booster, hour)
            status = Treatment.Status.GIVEN if moment < now else Treatment.Status.SCHEDULED
            if status == Treatment.Status.GIVEN or rng.random() < 0.75:  # the next one is mostly booked
                treatments.append((moment, status, f"{INFUSION}: maintenance booster"))
            if status == Treatment.Status.SCHEDULED:
                break
            booster += timedelta(days=rng.randint(21, 42))
        return stage, started, treatments, occasions

    def _make_due_now(self, stage_started: datetime, occasions: list[Occasion]) -> None:
        """Move the last sitting back so the next one fell due within the last two days (the Due list)."""
        last = occasions[-1]
        rule = self.schedule.stages[Stage.MAINTENANCE]
        due = next_due(rule, stage_started_at=stage_started, last_completed_at=last.at,
                       upcoming_treatment_at=None)
        if due is None or len(occasions) < 3:
            return
        moved = self.now - (due.due_at - last.at) - timedelta(hours=self.rng.uniform(1, 40))
        again = next_due(rule, stage_started_at=stage_started, last_completed_at=moved,
                         upcoming_treatment_at=None)
        in_window = again is not None and self.now - timedelta(days=2) <= again.due_at <= self.now
        if max(occasions[-2].at, stage_started) < moved < last.at and in_window:
            occasions[-1] = Occasion(moved, last.stage, last.phq9, last.in_clinic, last.alert)

    def _target(self, outcome: str, baseline: int) -> int:
        """The PHQ-9 total at the assessment after induction, inside the outcome's range."""
        rng, half = self.rng, baseline // 2
        if outcome == "respond" and half >= 5:
            return rng.randint(5, half)
        if outcome in {"remit", "respond"}:
            return rng.randint(0, min(4, half))
        share = rng.uniform(0.55, 0.8) if outcome == "partial" else rng.uniform(0.8, 1.05)
        return _clip(max(half + 1, round(baseline * share)))

    def _with_alert(self, traits: Traits, stage: str, started: datetime,
                    treatments: list[tuple[datetime, str, str]], occasions: list[Occasion], *,
                    alert: bool) -> Journey:
        """Place the patient's safety answer, if any. The first patient of each clinic answering within
        the last 10 days during treatment gets one still open, for their clinic's prescriber."""
        rng, clinician, is_open, index = self.rng, traits.clinician, False, -1
        recent = occasions[-1].at > self.now - timedelta(days=10)
        if self.open_alert_wanted[traits.clinic] and recent and stage in {Stage.INDUCTION, Stage.MAINTENANCE}:
            self.open_alert_wanted[traits.clinic] = False
            alert, is_open, index = True, True, len(occasions) - 1
            clinician = CLINIC_PRESCRIBERS[traits.clinic]
        elif alert:
            index = rng.randrange(len(occasions))
        if alert:
            chosen = occasions[index]
            with_cssrs = chosen.stage != Stage.INDUCTION or "safety" in traits.groups
            kind = "cssrs" if with_cssrs and not is_open and rng.random() < 0.5 else "phq9"
            occasions[index] = Occasion(chosen.at, chosen.stage, max(chosen.phq9, 2), chosen.in_clinic, kind)
        return Journey(stage, started, clinician, tuple(treatments), tuple(occasions), traits.groups,
                       traits.baseline, traits.anchors, traits.profile, is_open)

    # -- answers ----------------------------------------------------------------------------------

    def answers(self, journey: Journey, occasion: Occasion, instrument_id: str) -> tuple[int | None, ...]:
        """Item answers for one questionnaire at one sitting, in item order."""
        rng = self.rng
        ratio = occasion.phq9 / journey.baseline if journey.baseline else 1.0
        if instrument_id == "phq9":
            item9 = rng.randint(1, 2) if occasion.alert == "phq9" else 0
            items = spread(rng, max(0, occasion.phq9 - item9), journey.profile, 3)
            difficulty: int | None = max(0, min(3, occasion.phq9 // 6 + rng.randint(-1, 0)))
            if rng.random() < 0.1:  # the unscored difficulty item is often left blank
                difficulty = None
            return (*items, item9, difficulty)
        gad7, pcl5, peg = journey.anchors
        if instrument_id == "gad7":
            total = max(0, min(21, round(gad7 * ratio) + rng.randint(-2, 2)))
            return tuple(spread(rng, total, (1.2, 1.0, 1.3, 1.0, 0.8, 1.0, 0.9), 3))
        if instrument_id == "pcl5":
            total = max(0, min(80, round(pcl5 * (1 - 0.85 * (1 - ratio))) + rng.randint(-4, 4)))
            return tuple(spread(rng, total, (1.0,) * 20, 4))
        if instrument_id == "peg":
            total = max(0, min(30, round(peg * (1 - 0.6 * (1 - ratio))) + rng.randint(-2, 2)))
            return tuple(spread(rng, total, (1.1, 1.0, 0.9), 10))
        if instrument_id == "ymrs":
            items = spread(rng, rng.randint(0, 6), (1.0,) * 7, 4)
            return (*items[:4], 0, 0, items[4], 0, 0, items[5], items[6])
        if instrument_id == "cssrs_screener":
            if occasion.alert == "cssrs":
                if rng.random() < 0.7:  # ideation with a method: moderate
                    return (1, 1, 1, 0, 0, 0, None)
                return (1, 1, 1, 1, 1, 0, None)  # with intent and a plan: high
            wish = "safety" in journey.groups and ratio > 0.5 and rng.random() < 0.6
            return (1, 0, None, None, None, 0, None) if wish else (0, 0, None, None, None, 0, None)
        raise ValueError(f"the demo has no answers for {instrument_id}")

    # -- rows -------------------------------------------------------------------------------------

    def write(self, patients: Sequence[Patient], batch: Sequence[SyntheticPatient],
              ids: Callable[[], uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
        """Bulk-insert one batch's rows inside the caller's transaction; per patient, the counts for its
        audit event. Rows go out every `FLUSH_ROWS` responses, so memory stays flat."""
        pending = PendingRows()
        counts: dict[uuid.UUID, dict[str, int]] = {}
        for patient, synthetic in zip(patients, batch, strict=True):
            journey = self.journey(synthetic)
            if journey is not None:
                clinic = self.clinic_ids.index(synthetic.fields["home_clinic_id"])
                counts[patient.pk] = self._rows(patient, journey, self.staff[CLINIC_NURSES[clinic]], ids,
                                                pending)
            if len(pending.responses) >= FLUSH_ROWS:
                self.totals.update(pending.flush())
        self.totals.update(pending.flush())
        return counts

    def _rows(self, patient: Patient, journey: Journey, nurse: StaffMember, ids: Callable[[], uuid.UUID],
              pending: PendingRows) -> dict[str, int]:
        """Add one patient's rows to `pending`; returns the counts for the patient's audit event."""
        org, clinician = self.organization_id, self.staff[journey.clinician]
        pending.plans.append(MeasurementPlan(
            id=ids(), organization_id=org, patient_id=patient.pk, stage=journey.stage,
            stage_started_at=journey.stage_started_at, instruments=[], responsible_clinician_id=clinician.pk))
        pending.treatments += [
            Treatment(id=ids(), organization_id=org, patient_id=patient.pk, occurred_at=when, status=status,
                      description=text, recorded_by_id=nurse.user_id)
            for when, status, text in journey.treatments]
        last: dict[str, datetime] = {}
        responses = alerts = 0
        for occasion in journey.occasions:
            staff_entry = (nurse if occasion.stage == Stage.INDUCTION else clinician).user_id
            for offset, instrument_id in enumerate(self._planned(occasion.stage, journey.groups)):
                instrument = self.library[instrument_id]
                result, rows = _scored(instrument_id, self.answers(journey, occasion, instrument_id))
                in_clinic = occasion.in_clinic or instrument.respondent == "clinician"
                response = QuestionnaireResponse(
                    id=ids(), organization_id=org, patient_id=patient.pk, instrument_id=instrument.id,
                    recorded_by_id=staff_entry if in_clinic else None, instrument_version=instrument.version,
                    authored_at=min(occasion.at + timedelta(minutes=2 * offset), self.now),
                    source=CLINICIAN if in_clinic else LINK, answers=rows,
                    safety_flags=list(result.safety_flags), findings=list(result.findings))
                pending.responses.append(response)
                pending.observations += observations_for(instrument, result, response)
                last[instrument_id] = response.authored_at
                responses += 1
                if result.safety_details:
                    alert = self._alert(ids(), response, instrument, result, clinician, journey)
                    pending.alerts.append(alert)
                    pending.notifications.append(Notification(
                        id=ids(), organization_id=org, recipient_id=clinician.user_id, patient_id=patient.pk,
                        safety_alert=alert, title=f"Safety alert: {instrument.short_name} for {patient.mrn}",
                        link=f"/measures/alerts/{alert.pk}/", read_at=alert.acknowledged_at))
                    alerts += 1
        # What `schedule.refresh_due` would leave open, computed here instead of ~10 queries a patient.
        upcoming = min((when for when, status, _ in journey.treatments
                        if status == Treatment.Status.SCHEDULED and when >= self.now), default=None)
        rule = self.schedule.stages[journey.stage]
        for instrument_id in self._planned(journey.stage, journey.groups):
            decision = next_due(rule, stage_started_at=journey.stage_started_at,
                                last_completed_at=last.get(instrument_id), upcoming_treatment_at=upcoming)
            if decision is not None:
                pending.due.append(MeasureDue(
                    id=ids(), organization_id=org, patient_id=patient.pk, instrument_id=instrument_id,
                    due_at=decision.due_at, reason=decision.reason[:200]))
        return {"responses": responses, "treatments": len(journey.treatments), "safety_alerts": alerts}

    def _planned(self, stage: str, groups: tuple[str, ...]) -> tuple[str, ...]:
        """The schedule's instruments for the stage, as `schedule.instruments_planned` picks them,
        less those the practice has no definition for (Y-BOCS is loaded by a licensed clinic)."""
        key = (stage, groups)
        if key not in self._planned_cache:
            wanted = self.schedule.instruments_for(stage, groups)
            self._planned_cache[key] = tuple(i for i in wanted if i in self.library)
        return self._planned_cache[key]

    def _alert(self, pk: uuid.UUID, response: QuestionnaireResponse, instrument: Instrument, result: Score,
               clinician: StaffMember, journey: Journey) -> SafetyAlert:
        rng = self.rng
        raised = response.authored_at
        acknowledged = raised + timedelta(minutes=rng.randint(15, 20 * 60))
        is_open = journey.alert_open or acknowledged >= self.now
        action = "" if is_open else rng.choices(_ACTIONS, _ACTION_WEIGHTS)[0]
        return SafetyAlert(
            id=pk, organization_id=self.organization_id, patient_id=response.patient_id, response=response,
            instrument_id=instrument.id, raised_at=raised, assigned_to_id=clinician.pk,
            flags=[{"name": f.name, "message": f.message, "item": f.item, "value": f.value}
                   for f in result.safety_details],
            status=SafetyAlert.Status.OPEN if is_open else SafetyAlert.Status.ACKNOWLEDGED,
            acknowledged_at=None if is_open else acknowledged,
            acknowledged_by_id=None if is_open else clinician.user_id,
            action=action, action_note=ACK_NOTES[action][0] if action else "",
        )




def _clip(phq9: int) -> int:
    """A PHQ-9 total the demo can spread over items 1-8 (item 9 stays 0 but on a safety answer)."""
    return max(0, min(24, phq9))

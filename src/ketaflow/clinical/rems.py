"""The Spravato REMS Patient Monitoring Form, answered from the facts of one esketamine session.

Clinical reference §4: patient name, date of birth and sex; concomitant benzodiazepines,
non-benzodiazepine sedative-hypnotics, psychostimulants and MAOIs (yes/no); the monitoring provider
and setting; the treatment date; the dose (56 mg, 84 mg or other); the lot number; the minutes from
the first device to the end of monitoring; when the patient would have been ready to leave without
the 2-hour rule; vital signs acceptable before dosing and at the end (yes/no); blood pressure before
dosing, about 40 minutes after and before the end; sedation, dissociation and respiratory depression.

`rems_answers` turns a plain `RemsFacts` into the form's answers, each with its label, the value as
written on the form, the detail it came from, and `missing` when the record cannot answer it (the
clinician completes it before submitting). Nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from .monitoring import Limit
from .rems_record import FORM_SOURCE, FORM_VERSION, MedicationFact, Reading, RemsAnswers, RemsFacts, RemsField

__all__ = [
    "FORM_SOURCE",
    "FORM_VERSION",
    "MedicationFact",
    "Reading",
    "RemsAnswers",
    "RemsFacts",
    "RemsField",
    "dose_answer",
    "rems_answers",
]

DEVICE_MG = Decimal(28)  # one nasal device (US prescribing information, clinical reference §2)
LISTED_DOSES_MG = (Decimal(56), Decimal(84))
BP_AFTER_MIN = 40  # "about 40 minutes after dosing" (label and REMS)
MOAAS_ALERT = 5  # MOAA/S 5 = responds readily to name spoken in a normal tone [verify scale]

# The form's medication questions and the catalogue class each reads.
MEDICATION_QUESTIONS = (
    ("benzodiazepines", "Concomitant benzodiazepines", "benzodiazepine"),
    ("sedative_hypnotics", "Concomitant non-benzodiazepine sedative-hypnotics", "sedative_hypnotic"),
    ("psychostimulants", "Concomitant psychostimulants", "psychostimulant"),
    ("maois", "Concomitant monoamine oxidase inhibitors (MAOIs)", "maoi"),
)


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def rems_answers(facts: RemsFacts) -> RemsAnswers:
    """Every question of the monitoring form answered from `facts`, in the form's order."""
    zone = ZoneInfo(facts.zone)
    after = _after_first_device(facts)
    return RemsAnswers(
        (
            *_patient(facts),
            *_medications(facts.medications),
            *_provider(facts),
            *_dose(facts),
            *_times(facts, zone),
            *_vitals(facts, after, zone),
            *_events(facts, after),
        )
    )


def _patient(facts: RemsFacts) -> list[RemsField]:
    section = "Patient"
    return [
        RemsField("patient_name", section, "Patient name", facts.patient_name),
        RemsField("date_of_birth", section, "Date of birth", f"{facts.date_of_birth:%d %b %Y}"),
        RemsField(
            "sex",
            section,
            "Sex",
            facts.sex or "Not recorded",
            missing=not facts.sex,
            detail="" if facts.sex else "Record the sex at birth in the chart.",
        ),
    ]


def _medications(medications: Sequence[MedicationFact]) -> list[RemsField]:
    unclassified = [m.name for m in medications if not m.classified]
    check = f"Not in the catalogue, check by hand: {', '.join(unclassified)}." if unclassified else ""
    fields = []
    for key, label, klass in MEDICATION_QUESTIONS:
        names = [m.name for m in medications if klass in m.classes]
        detail = (
            f"Current medication list: {', '.join(names)}."
            if names
            else "None on the current medication list."
        )
        fields.append(
            RemsField(key, "Concomitant medications", label, yes_no(bool(names)), f"{detail} {check}".strip())
        )
    return fields


def _provider(facts: RemsFacts) -> list[RemsField]:
    section = "Monitoring"
    where = f"{facts.clinic_name}, {facts.clinic_address}" if facts.clinic_address else facts.clinic_name
    return [
        RemsField("monitoring_provider", section, "Monitoring provider (healthcare setting)", where),
        RemsField(
            "prescriber",
            section,
            "Prescriber",
            facts.prescriber_name or "Not recorded",
            missing=not facts.prescriber_name,
        ),
        RemsField("setting", section, "Setting", facts.setting),
        RemsField("treatment_date", section, "Treatment date", f"{facts.treatment_date:%d %b %Y}"),
    ]


def dose_answer(mg: Decimal) -> str:
    """56 mg, 84 mg, or 'Other: 28 mg' as the form asks."""
    shown = f"{mg.normalize():f} mg"
    return shown if mg in LISTED_DOSES_MG else f"Other: {shown}"


def _dose(facts: RemsFacts) -> list[RemsField]:
    section = "Dose"
    mg = facts.delivered_mg
    if mg is None or mg <= 0:
        dose = RemsField("dose", section, "Dose", "Not recorded", "No dose was given in the record.", True)
    else:
        devices = mg / DEVICE_MG
        detail = (
            f"{int(devices)} device(s) of {DEVICE_MG} mg given"
            if devices == int(devices)
            else f"{mg.normalize():f} mg given (not a whole number of {DEVICE_MG} mg devices)"
        )
        dose = RemsField("dose", section, "Dose", dose_answer(mg), detail)
    lots = ", ".join(facts.lot_numbers)
    return [
        dose,
        RemsField(
            "lot_number",
            section,
            "Lot number",
            lots or "Not recorded",
            "From the dose preparation." if lots else "No preparation with a lot was recorded.",
            missing=not lots,
        ),
    ]


def _clock(at: datetime, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone):%H:%M}"


def _minutes(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def _times(facts: RemsFacts, zone: ZoneInfo) -> list[RemsField]:
    section = "Monitoring times"
    first, ended, ready = facts.first_device_at, facts.monitoring_ended_at, facts.ready_to_leave_at
    if first is None or ended is None:
        total = RemsField(
            "monitoring_minutes",
            section,
            "Minutes from the first device to the end of monitoring",
            "Not recorded",
            "The first device or the discharge time is missing.",
            True,
        )
    else:
        total = RemsField(
            "monitoring_minutes",
            section,
            "Minutes from the first device to the end of monitoring",
            f"{_minutes(first, ended)} min",
            f"First device {_clock(first, zone)}, monitoring ended (discharge) {_clock(ended, zone)}.",
        )
    label = "When the patient would have been ready to leave without the 2-hour rule"
    if ready is None or first is None:
        leave = RemsField(
            "ready_to_leave", section, label, "Not recorded", "No passing discharge score was recorded.", True
        )
    else:
        leave = RemsField(
            "ready_to_leave",
            section,
            label,
            f"{_clock(ready, zone)} ({_minutes(first, ready)} min after the first device)",
            "The first time the discharge score passed.",
        )
    return [total, leave]


def _after_first_device(facts: RemsFacts) -> list[Reading]:
    """Readings from the first device on, in time order."""
    first = facts.first_device_at
    if first is None:
        return []
    return sorted((r for r in facts.readings if r.at >= first), key=lambda r: r.at)


def limits_crossed(reading: Reading, limits: Iterable[Limit], *, direction: str | None = None) -> list[str]:
    """The limits this reading crosses ('low' or 'high' only, when `direction` is given), in words;
    empty when it is within every limit it could be judged by."""
    crossed = []
    for limit in limits:
        value = reading.value(limit.field)
        way = None if value is None else limit.crossed(Decimal(value))
        if way is not None and direction in (None, way):
            crossed.append(f"{limit.label} {value} {limit.unit} (limit {limit.text})")
    return crossed


def _bp_field(key: str, label: str, reading: Reading | None, detail: str, missing_detail: str) -> RemsField:
    if reading is None:
        return RemsField(key, "Vital signs", label, "Not recorded", missing_detail, True)
    return RemsField(key, "Vital signs", label, reading.bp, detail)


def _vitals(facts: RemsFacts, after: list[Reading], zone: ZoneInfo) -> list[RemsField]:
    section = "Vital signs"
    first = facts.first_device_at
    ready = facts.ready_before_dosing
    if ready is None:
        before = RemsField(
            "vitals_ok_before",
            section,
            "Vital signs acceptable before dosing",
            "Not recorded",
            "No readiness decision was recorded.",
            True,
        )
    else:
        why = (
            "Within the protocol's pre-dose limits."
            if ready
            else (
                f"Outside the pre-dose limits; dosing went ahead on an override: {facts.override_reason}"
                if facts.override_reason
                else "Outside the pre-dose limits."
            )
        )
        before = RemsField(
            "vitals_ok_before", section, "Vital signs acceptable before dosing", yes_no(ready), why
        )
    last = after[-1] if after else None
    if last is None:
        end = RemsField(
            "vitals_ok_end",
            section,
            "Vital signs acceptable at the end of monitoring",
            "Not recorded",
            "No reading after the first device.",
            True,
        )
    else:
        crossed = limits_crossed(last, facts.rules.limits)
        end = RemsField(
            "vitals_ok_end",
            section,
            "Vital signs acceptable at the end of monitoring",
            yes_no(not crossed),
            f"Last reading at {_clock(last.at, zone)}: "
            + ("; ".join(crossed) if crossed else "within the protocol's limits")
            + ".",
        )
    pre = facts.pre_dose if facts.pre_dose is not None and facts.pre_dose.has_bp else None
    with_bp = [r for r in after if r.has_bp]
    around = None
    if first is not None and with_bp:
        target = first + timedelta(minutes=BP_AFTER_MIN)
        around = min(with_bp, key=lambda r: abs((r.at - target).total_seconds()))
    closing = with_bp[-1] if with_bp else None
    return [
        before,
        end,
        _bp_field(
            "bp_before",
            "Blood pressure before dosing",
            pre,
            f"Pre-dose reading at {_clock(pre.at, zone)}." if pre else "",
            "No pre-dose blood pressure was recorded.",
        ),
        _bp_field(
            "bp_40_min",
            f"Blood pressure about {BP_AFTER_MIN} minutes after dosing",
            around,
            f"Taken at {_clock(around.at, zone)}, {_minutes(first, around.at)} min after the first device."
            if around and first
            else "",
            "No blood pressure after the first device.",
        ),
        _bp_field(
            "bp_end",
            "Blood pressure before the end of monitoring",
            closing,
            f"Last reading, at {_clock(closing.at, zone)}." if closing else "",
            "No blood pressure after the first device.",
        ),
    ]


def _number(value: float) -> str:
    return f"{value:g}"


def _events(facts: RemsFacts, after: list[Reading]) -> list[RemsField]:
    section = "Adverse events"
    if facts.moaas:
        lowest = min(facts.moaas)
        sedation = RemsField(
            "sedation",
            section,
            "Sedation",
            yes_no(lowest < MOAAS_ALERT),
            f"Lowest MOAA/S {_number(lowest)} of {MOAAS_ALERT} ({len(facts.moaas)} scored).",
        )
    else:
        sedation = RemsField("sedation", section, "Sedation", "Not recorded", "No MOAA/S was scored.", True)
    reported = "dissociation" in facts.side_effects
    if facts.cadss6 or reported:
        highest = max(facts.cadss6) if facts.cadss6 else None
        parts = (
            [f"Highest CADSS-6 {_number(highest)} ({len(facts.cadss6)} scored)."]
            if highest is not None
            else []
        )
        if reported:
            parts.append("Dissociation recorded as a side effect.")
        dissociation = RemsField(
            "dissociation", section, "Dissociation", yes_no(reported or (highest or 0) > 0), " ".join(parts)
        )
    else:
        dissociation = RemsField(
            "dissociation",
            section,
            "Dissociation",
            "Not recorded",
            "No CADSS-6 was scored and no dissociation recorded.",
            True,
        )
    return [sedation, dissociation, _respiratory(facts, after)]


def _respiratory(facts: RemsFacts, after: list[Reading]) -> RemsField:
    label = "Respiratory depression"
    limits = [
        limit
        for limit in facts.rules.limits
        if limit.field in ("oxygen_saturation", "respiratory_rate") and limit.low is not None
    ]
    judged = [r for r in after if any(r.value(limit.field) is not None for limit in limits)]
    if not limits or not judged:
        why = (
            "No oxygen saturation or respiratory rate after the first device."
            if limits
            else ("The protocol sets no low limit for oxygen saturation or respiratory rate.")
        )
        return RemsField("respiratory_depression", "Adverse events", label, "Not recorded", why, True)
    low = [text for reading in judged for text in limits_crossed(reading, limits, direction="low")]
    detail = (
        "; ".join(low)
        if low
        else (
            "Every reading within " + " and ".join(f"{limit.label.lower()} {limit.text}" for limit in limits)
        )
    )
    return RemsField(
        "respiratory_depression",
        "Adverse events",
        label,
        yes_no(bool(low)),
        f"{detail} (the protocol's limits).",
    )

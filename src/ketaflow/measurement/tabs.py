"""The Measures chart tab: safety alerts, trajectories with outcome reasons, history, plan and forms.

`measures_context` receives a patient already opened (and audited) by `open_patient`, for an actor
already checked against the tab's permission. Every clinical number is shown with the decision it
drives and the rule (and source) behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.instruments import Instrument
from ketaflow.clinical.outcomes import Judgement, Outcome, OutcomeRules
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Patient

from .forms import EnteredInErrorForm, InstrumentChoiceForm, LinkForm, PlanForm, TreatmentForm
from .library import instruments_for, settings_for
from .models import (
    MeasureDue,
    MeasurementPlan,
    MeasurementSettings,
    QuestionnaireResponse,
    SafetyAlert,
    Stage,
    Treatment,
)
from .progress import InstrumentProgress, patient_progress
from .schedule import clinicians_for, due_window, instruments_planned, plan_for
from .sms import sms_backend

HISTORY_LIMIT = 20
NONE = "\u2013"  # an en dash for a missing number
# The published defaults (the core's OutcomeRules), to say when a clinic has changed one.
DEFAULT_REDUCTION_PERCENT = round(OutcomeRules().response_reduction * 100)
DEFAULT_RELAPSE = OutcomeRules().relapse_consecutive
DEFAULT_NON_RESPONSE = OutcomeRules().non_response_after


@dataclass(frozen=True)
class JudgementRow:
    name: str
    value: str  # Yes / No / Not yet
    tone: str  # css modifier
    reason: str
    rule: str
    source: str


@dataclass(frozen=True)
class ProgressCard:
    instrument: Instrument
    svg: SafeString
    outcome: Outcome
    latest_value: str
    latest_band: str
    latest_at: Any
    baseline: str
    change: str
    percent: str
    threshold: str
    judgements: list[JudgementRow]


@dataclass(frozen=True)
class AnswerRow:
    number: int
    text: str
    label: str
    value: Any
    flagged: bool = False  # the answer raised a safety flag


@dataclass
class ResponseRow:
    response: QuestionnaireResponse
    name: str
    total: str
    band: str
    flags: list[str]
    answers: list[AnswerRow] = field(default_factory=list)

    @property
    def in_error(self) -> bool:
        return self.response.status == QuestionnaireResponse.Status.ENTERED_IN_ERROR


def _num(value: float | None) -> str:
    return NONE if value is None else f"{value:g}"


def _sentence(text: str) -> str:
    """A reason as a sentence: capitalised, with one full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _verdict(judgement: Judgement, *, good_when: bool) -> tuple[str, str]:
    """("Yes"/"No"/"Not yet", tone) where tone says whether the finding is good news for the patient."""
    if judgement.value is None:
        return "Not yet", "pending"
    if judgement.value is good_when:
        return ("Yes" if judgement.value else "No"), "good"
    return ("Yes" if judgement.value else "No"), "bad"


def _judgements(item: InstrumentProgress, config: MeasurementSettings) -> list[JudgementRow]:
    outcome = item.outcome
    rules = outcome.rules
    sources = rules.sources
    reduction = config.response_reduction_percent
    line = ""
    if outcome.response_threshold is not None:
        line = f", i.e. {_num(outcome.response_threshold)} or lower here"
    response_source = sources["response"] if reduction == DEFAULT_REDUCTION_PERCENT else (
        f"Clinic setting (the published convention is {DEFAULT_REDUCTION_PERCENT}%: clinical reference §6)."
    )
    remission_rule = (f"total at or below {_num(rules.remission_at_most)}"
                      if rules.remission_at_most is not None else "no remission cut-off for this instrument")
    relapse_source = sources["relapse"] if rules.relapse_consecutive == DEFAULT_RELAPSE else (
        f"Clinic setting (ketaflow's default is {DEFAULT_RELAPSE} in a row). {sources['relapse']}"
    )
    non_response_source = sources["non_response"] if rules.non_response_after == DEFAULT_NON_RESPONSE else (
        f"Clinic setting (the APA consensus review point is {DEFAULT_NON_RESPONSE} treatments). "
        f"{sources['non_response']}"
    )
    rows = []
    for name, judgement, good_when, rule, source in (
        ("Response", outcome.response, True, f"at least {reduction}% reduction from baseline{line}",
         response_source),
        ("Remission", outcome.remission, True, remission_rule,
         sources["remission"] if rules.remission_at_most is not None else ""),
        ("Relapse", outcome.relapse, False,
         f"{rules.relapse_consecutive} measurements in a row back above the response line after a response",
         relapse_source),
        ("Non-response", outcome.non_response, False,
         f"no response after {rules.non_response_after} treatments: review the plan", non_response_source),
    ):
        value, tone = _verdict(judgement, good_when=good_when)
        reason = _sentence(judgement.reason)
        shown_source = "" if source and source in reason else source
        rows.append(JudgementRow(name, value, tone, reason, rule, shown_source))
    return rows


def progress_card(item: InstrumentProgress, config: MeasurementSettings) -> ProgressCard:
    outcome = item.outcome
    latest = item.latest
    percent = NONE
    if outcome.percent_change is not None:
        percent = f"{outcome.percent_change:+.0f}%"
    change = NONE if outcome.change is None else f"{outcome.change:+g}"
    baseline = NONE
    if outcome.baseline is not None:
        baseline = _num(outcome.baseline.total)
    return ProgressCard(
        instrument=item.instrument,
        # charts.py escapes every piece of text and writes no style or script: safe to inline.
        svg=mark_safe(item.chart()),
        outcome=outcome,
        latest_value=_num(latest.value) if latest else NONE,
        latest_band=latest.band if latest else "",
        latest_at=latest.at if latest else None,
        baseline=baseline,
        change=change,
        percent=percent,
        threshold=_num(outcome.response_threshold),
        judgements=[] if _is_risk_screen(item.instrument) else _judgements(item, config),
    )


def response_row(response: QuestionnaireResponse, library: dict[str, Instrument]) -> ResponseRow:
    instrument = library.get(response.instrument_id)
    total = next((o for o in response.observations.all() if o.kind == "total"), None)
    numbers: dict[str, int] = {}
    texts: dict[str, str] = {}
    messages: dict[str, str] = {}
    thresholds: dict[str, int] = {}
    if instrument is not None:
        thresholds = {rule.item: rule.above for rule in instrument.safety if rule.item is not None}
        numbers = {item.id: index for index, item in enumerate(instrument.items, start=1)}
        texts = {item.id: item.text for item in instrument.items}
        messages = {rule.flag: rule.message for rule in instrument.safety}
    answers = [
        AnswerRow(numbers.get(row["item"], 0), texts.get(row["item"], f"Item {row['item']}"),
                  row.get("display", ""), row.get("value"),
                  row["item"] in thresholds and (row.get("value") or 0) > thresholds[row["item"]])
        for row in response.answers
    ]
    return ResponseRow(
        response=response,
        name=instrument.short_name if instrument else response.instrument_id,
        total=_num(total.value) if total else NONE,
        band=total.band if total else "",
        flags=[messages.get(flag, flag) for flag in response.safety_flags],
        answers=answers,
    )


def _is_risk_screen(instrument: Instrument) -> bool:
    return instrument.scoring.method == "risk_level"


def _short_name(library: dict[str, Instrument], instrument_id: str) -> str:
    instrument = library.get(instrument_id)
    return instrument.short_name if instrument else instrument_id


def default_instruments(patient: Patient, stage: str) -> tuple[str, ...]:
    """What the schedule asks for at this stage with no instruments chosen on the plan."""
    blank = MeasurementPlan(organization_id=patient.organization_id, patient=patient, stage=stage,
                            instruments=[])
    return instruments_planned(patient, blank)


def measures_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    actor.require(Permission.VIEW_CLINICAL)
    org = actor.organization_id
    library = instruments_for(org)
    config = settings_for(org)
    editable = actor.can(Permission.EDIT_CLINICAL)

    open_alerts = list(
        SafetyAlert.objects.for_organization(org)
        .filter(patient=patient, status=SafetyAlert.Status.OPEN)
        .select_related("assigned_to__user")
        .order_by("-raised_at")
    )
    # Risk screens (C-SSRS) last: the scales with outcome rules are what a visit reviews first.
    progress = sorted(patient_progress(patient), key=lambda item: _is_risk_screen(item.instrument))
    cards = [progress_card(item, config) for item in progress]
    responses = (
        QuestionnaireResponse.objects.for_organization(org)
        .filter(patient=patient)
        .prefetch_related("observations")
        .order_by("-authored_at")
    )
    history = [response_row(r, library) for r in responses[:HISTORY_LIMIT]]

    plan = plan_for(patient)
    stage = plan.stage if plan else Stage.EVALUATION
    defaults = [_short_name(library, i) for i in default_instruments(patient, stage)]
    chosen = [_short_name(library, i) for i in (plan.instruments if plan else [])]
    due = list(
        MeasureDue.objects.for_organization(org)
        .filter(patient=patient, status=MeasureDue.Status.OPEN)
        .order_by("due_at")
    )
    treatments = Treatment.objects.for_organization(org).filter(patient=patient).exclude(
        status=Treatment.Status.CANCELLED
    )
    given = treatments.filter(status=Treatment.Status.GIVEN)
    window = due_window(org)
    due_now = [row.instrument_id for row in due if row.due_at <= window.now]

    context: dict[str, Any] = {
        "can_edit_clinical": editable,
        "measure_alerts": open_alerts,
        "progress_cards": cards,
        "history": history,
        "history_total": responses.count() if len(history) == HISTORY_LIMIT else len(history),
        "history_limit": HISTORY_LIMIT,
        "plan": plan,
        "plan_defaults": defaults,
        "plan_chosen": chosen,
        "due_rows": [
            {"row": row, "name": _short_name(library, row.instrument_id),
             "overdue": row.due_at < window.overdue_before, "due_now": row.due_at <= window.now}
            for row in due
        ],
        "treatments_given": given.count(),
        "last_treatment": given.order_by("-occurred_at").first(),
        "next_treatment": treatments.filter(status=Treatment.Status.SCHEDULED, occurred_at__gte=window.now)
        .order_by("occurred_at").first(),
        "measures_config": config,
        # What is due now is ticked already: the usual reason to send a link.
        "link_form": LinkForm(initial={"instruments": due_now}, instruments=library.values(),
                              sms_ready=sms_backend() is not None),
    }
    if editable:
        clinicians = list(clinicians_for(org).order_by("user__last_name", "user__first_name"))
        initial: dict[str, Any] = {"stage": stage}
        if plan:
            initial |= {"responsible_clinician_id": str(plan.responsible_clinician_id or ""),
                        "instruments": list(plan.instruments)}
        context |= {
            "chooser_form": InstrumentChoiceForm(instruments=library.values()),
            "plan_form": PlanForm(initial=initial, clinicians=clinicians, instruments=library.values()),
            "treatment_form": TreatmentForm(),
            "in_error_form": EnteredInErrorForm(),
        }
    return context


register_tab("measures", "Measures", Permission.VIEW_CLINICAL, "measurement/tab.html", measures_context)

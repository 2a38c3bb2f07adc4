"""The Eligibility chart tab: per route, the status, every rule that fired or is open, the facts with
their sources, the numbers used, and the prescriber's decision with the form to sign it.

`eligibility_context` receives a patient already opened (and audited) by `open_patient` for an actor
holding VIEW_CLINICAL. Status is shown in words and colour (never colour alone); each open rule turns
its missing facts into the question to ask and a link to where it is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.eligibility import (
    FACT_SPECS,
    FACTS,
    Route,
    RouteResult,
    Severity,
    Status,
    builtin_rules,
)
from ketaflow.clinical.medications import medication_catalogue
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Patient

from .decisions import assess_patient, decisions_of, mark_reopen_notices_read
from .forms import SignForm
from .models import EligibilityDecision
from .settings_service import ParameterRow, parameter_rows

HISTORY_LIMIT = 10
STATUS_TONES = {
    Status.ELIGIBLE: ("ok", "\u2713"),
    Status.ELIGIBLE_WITH_CAUTIONS: ("warn", "!"),
    Status.NEEDS_REVIEW: ("warn", "?"),
    Status.NOT_ELIGIBLE: ("danger", "\u2715"),
}
SEVERITY_TONES = {
    Severity.EXCLUDE: "danger", Severity.REVIEW: "warn", Severity.CAUTION: "warn", Severity.INFO: "brand",
}
UNITS = {"age_years": "years", "systolic_bp": "mmHg", "diastolic_bp": "mmHg"}


def value_text(name: str, value: Any) -> str:
    """A fact's value as a clinician reads it: Yes / No / Not known, numbers with units, class names."""
    if value is None:
        return "Not known"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if name == "medication_classes":
        labels = medication_catalogue().class_labels
        return ", ".join(labels.get(c, c) for c in sorted(value)) or "None of the interacting classes"
    if name in UNITS:
        return f"{value} {UNITS[name]}"
    return str(value).capitalize()


@dataclass(frozen=True)
class Place:
    label: str
    url: str


def answer_place(name: str, patient: Patient) -> Place:
    """Where in the chart a fact is answered."""
    evaluation = reverse("patients:tab", kwargs={"patient_id": patient.pk, "tab": "evaluation"})
    if name == "age_years":
        edit = reverse("patients:edit", kwargs={"patient_id": patient.pk})
        return Place("Patient details (date of birth)", edit)
    if name in ("systolic_bp", "diastolic_bp"):
        return Place("Evaluation: vital signs", f"{evaluation}#vitals")
    if name in ("medication_classes", "unclassified_medications"):
        return Place("Evaluation: medications", f"{evaluation}#medications")
    if name.endswith("_reviewed"):
        return Place("Evaluation: labs and ECG", f"{evaluation}#labs")
    if name == "suicidal_ideation_recent":
        measures = reverse("patients:tab", kwargs={"patient_id": patient.pk, "tab": "measures"})
        return Place("Measures: a C-SSRS screener or PHQ-9", measures)
    return Place("Evaluation: the clinician's answers", f"{evaluation}#facts")


@dataclass(frozen=True)
class FactRow:
    name: str
    label: str
    value: str
    known: bool
    source: str
    question: str
    place: Place


@dataclass(frozen=True)
class FindingRow:
    rule: str
    severity: str
    tone: str
    message: str
    source: str
    verify: bool
    values: list[tuple[str, str]]


@dataclass(frozen=True)
class OpenRow:
    rule: str
    severity: str
    message: str
    source: str
    verify: bool
    questions: list[FactRow]


@dataclass(frozen=True)
class ChangeRow:
    label: str
    before: str
    after: str
    note: str


@dataclass
class RouteCard:
    route: Route
    status: Status
    tone: str
    symbol: str
    findings: list[FindingRow]
    open_rules: list[OpenRow]
    facts: list[FactRow]
    parameters: list[ParameterRow]
    decision: EligibilityDecision | None
    changes: list[ChangeRow]
    history: list[EligibilityDecision]
    form: SignForm | None = None


def change_rows(decision: EligibilityDecision) -> list[ChangeRow]:
    return [
        ChangeRow(FACT_SPECS[c["fact"]].label if c["fact"] in FACT_SPECS else c["fact"],
                  value_text(c["fact"], c["before"]), value_text(c["fact"], c["after"]), c.get("note", ""))
        for c in decision.reopen_changes or []
    ]


def _parameters_read(route: Route) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"param"}:
                names.add(node["param"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for rule in builtin_rules().for_route(route):
        walk(rule.when)
    return names


def route_card(
    result: RouteResult, fact_rows: dict[str, FactRow], parameters: list[ParameterRow],
    decisions: list[EligibilityDecision],
) -> RouteCard:
    route = result.route
    tone, symbol = STATUS_TONES[result.status]
    relied = builtin_rules().facts_for(route)
    findings = [
        FindingRow(f.rule_id, f.severity.label, SEVERITY_TONES[f.severity], f.message, f.source, f.verify,
                   [(FACT_SPECS[name].label, value_text(name, value)) for name, value in f.values])
        for f in result.findings
    ]
    open_rules = [
        OpenRow(u.rule_id, u.severity.label, u.message, u.source, u.verify, [fact_rows[n] for n in u.missing])
        for u in result.unresolved
    ]
    mine = [d for d in decisions if d.route == route.value]
    current = next((d for d in mine if d.status != EligibilityDecision.State.SUPERSEDED), None)
    history = [d for d in mine if d is not current][:HISTORY_LIMIT]
    read = _parameters_read(route)
    return RouteCard(
        route=route, status=result.status, tone=tone, symbol=symbol, findings=findings, open_rules=open_rules,
        facts=[fact_rows[spec.name] for spec in FACTS if spec.name in relied],
        parameters=[row for row in parameters if row.name in read],
        decision=current, changes=change_rows(current) if current else [], history=history,
    )


def eligibility_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    actor.require(Permission.VIEW_CLINICAL)
    found = assess_patient(patient)
    gathered = found.gathered
    facts = gathered.facts.as_dict()
    fact_rows = {
        spec.name: FactRow(spec.name, spec.label, value_text(spec.name, facts[spec.name]),
                           facts[spec.name] is not None, gathered.sources[spec.name], spec.question,
                           answer_place(spec.name, patient))
        for spec in FACTS
    }
    parameters = parameter_rows(found.config)
    decisions = list(decisions_of(patient).select_related("signed_by").order_by("-signed_at"))
    can_sign = actor.can(Permission.SIGN_PLANS)
    cards = []
    for result in found.assessment.results:
        card = route_card(result, fact_rows, parameters, decisions)
        if can_sign:
            card.form = SignForm(route=result.route, status=result.status)
        cards.append(card)
    if can_sign:
        mark_reopen_notices_read(actor, patient)
    reopened = [
        card for card in cards if card.decision and card.decision.status == EligibilityDecision.State.REOPENED
    ]
    return {
        "route_cards": cards,
        "reopened_cards": reopened,
        "eligibility_problems": list(gathered.problems),
        "eligibility_rules_version": found.assessment.rules_version,
        "eligibility_windows": found.config,
        "can_sign": can_sign,
        "all_facts": [fact_rows[spec.name] for spec in FACTS],
    }


register_tab(
    "eligibility", "Eligibility", Permission.VIEW_CLINICAL, "eligibility/tab.html", eligibility_context
)

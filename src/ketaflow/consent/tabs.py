"""The chart's Consent tab: per route, the consent state and what staff can do next.

`consent_context` receives a patient already opened (and audited) by `open_patient` for an actor
holding clinical view. States: none, requested (version n), signed awaiting countersignature,
current, withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Patient

from .forms import WithdrawForm
from .models import STATE_LABELS, Consent, ConsentTemplate, Setting, route_label
from .services import patient_consents
from .signature import data_url
from .template_versions import current_templates
from .text import blocks

TAB = "consent"


@dataclass
class RouteRow:
    template: ConsentTemplate  # the current version, which a new request pins
    consents: list[Consent] = field(default_factory=list)  # newest request first

    @property
    def route(self) -> str:
        return self.template.route

    @property
    def label(self) -> str:
        return route_label(self.template.route)

    @property
    def setting_note(self) -> str:
        """"in the clinic" / "at home", unless the route's name says it already."""
        note = Setting(self.template.setting).label.lower()
        return "" if self.label.lower().endswith(note) else note

    @property
    def current(self) -> Consent | None:
        signed = [c for c in self.consents if c.is_current]
        return max(signed, key=lambda c: c.signed_at) if signed else None  # type: ignore[arg-type, return-value]

    @property
    def waiting(self) -> Consent | None:
        return next((c for c in self.consents if c.status == Consent.Status.REQUESTED), None)

    @property
    def state(self) -> str:
        if self.current is not None:
            return "current"
        if any(c.state == "awaiting_countersignature" for c in self.consents):
            return "awaiting_countersignature"
        if self.waiting is not None:
            return "requested"
        return "withdrawn" if self.consents else "none"

    @property
    def state_label(self) -> str:
        if self.state == "requested" and self.waiting is not None:
            return f"Requested (version {self.waiting.template.version}), waiting for the patient's signature"
        return STATE_LABELS[self.state]

    @property
    def can_request(self) -> bool:
        """Not while a request waits for the patient or a signature waits for countersigning."""
        return self.state not in ("requested", "awaiting_countersignature")


def route_rows(templates: list[ConsentTemplate], consents: list[Consent]) -> list[RouteRow]:
    rows = {(t.route, t.setting): RouteRow(t) for t in templates}
    for consent in consents:
        row = rows.get((consent.route, consent.setting))
        if row is not None:
            row.consents.append(consent)
    return list(rows.values())


def shown_consent(consent: Consent) -> dict[str, Any]:
    """What the review panel needs to show one consent: its text and its signature."""
    return {
        "shown_consent": consent,
        "shown_blocks": blocks(consent.template.body),
        "shown_signature": data_url(consent.signature_png),
    }


def consent_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    actor.require(Permission.VIEW_CLINICAL)
    consents = patient_consents(actor, patient)
    return {
        "consent_rows": route_rows(current_templates(actor), consents),
        "can_edit_clinical": actor.can(Permission.EDIT_CLINICAL),
        "withdraw_form": WithdrawForm(),
    }


register_tab(TAB, "Consent", Permission.VIEW_CLINICAL, "consent/tab.html", consent_context)

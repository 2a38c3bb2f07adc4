"""Synthetic leads and self-screen answers for the enquiry tests (no tests here). All data is made up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import factory
from factory.django import DjangoModelFactory

from ketaflow.clinical.self_screen import triage
from ketaflow.demo.evaluations import SCREEN_CLEAR
from ketaflow.enquiries.models import Lead
from tests.factories import OrganizationFactory

# An adult asking about depression after two antidepressants, with no red flag: "book".
CLEAR_ANSWERS: dict[str, Any] = dict(SCREEN_CLEAR)  # the demo's clear self-screen: no red flag
RISK_ANSWERS: dict[str, Any] = {**CLEAR_ANSWERS, "suicidal_thoughts_now": "yes"}


def answers(**changes: Any) -> dict[str, Any]:
    return {**CLEAR_ANSWERS, **changes}


def form_data(given: dict[str, Any]) -> dict[str, Any]:
    """Answers as the self-screen page posts them (inputs named answers.<question>)."""
    return {f"answers.{key}": value for key, value in given.items()}


def contact_data(**changes: Any) -> dict[str, Any]:
    """Contact details as the result page posts them, consent given."""
    return {
        "name": "Robin Examplewood",
        "phone": "(503) 555-0188",
        "email": "robin.examplewood@example.test",
        "preferred_contact": "phone",
        "consent_to_contact": "on",
        "website": "",
        **changes,
    }


class LeadFactory(DjangoModelFactory):
    """A lead as the self-screen leaves it; pass answers=RISK_ANSWERS for one to call today."""

    class Meta:
        model = Lead
        exclude = ("result",)

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Sam Leadperson{n}")
    phone = factory.Sequence(lambda n: f"+1503555{n % 100:04d}")
    email = ""
    preferred_contact = "phone"
    consent_to_contact = True
    answers = factory.LazyFunction(lambda: dict(CLEAR_ANSWERS))
    result = factory.LazyAttribute(lambda o: triage(o.answers))
    screen_version = factory.LazyAttribute(lambda o: o.result.version)
    outcome = factory.LazyAttribute(lambda o: o.result.outcome.value)
    reasons = factory.LazyAttribute(lambda o: list(o.result.reasons))
    red_flags = factory.LazyAttribute(lambda o: list(o.result.red_flags))
    risk_endorsed = factory.LazyAttribute(lambda o: o.result.risk_endorsed)


def received_at(lead: Lead, when: datetime) -> Lead:
    """Backdate a lead (created_at is set on insert)."""
    Lead.objects.filter(pk=lead.pk).update(created_at=when)
    lead.refresh_from_db()
    return lead

"""The public side of enquiries: a practice's public page, the self-screen, and leaving details.

Nobody is signed in. The answers of a self-screen are judged (`clinical.self_screen.triage`) and
shown, never stored or logged, unless the person also leaves contact details with their consent:
then one Lead is written with the answers, the outcome and its reasons, and audited in the same
transaction under a public identity (no user, no roles, the caller's address). Each attempt counts
against a per-address limit (`throttle.take`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.self_screen import AnswerError, SelfScreenResult, triage
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.patients.models import ContactMethod
from ketaflow.phones import normalise_phone
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from . import throttle
from .models import Lead

CONTACT_FIELDS = ("name", "email", "phone", "preferred_contact", "consent_to_contact", "preferred_clinic_id")
NO_CONTACT_METHOD = "Give a phone number or an email address so the clinic can reach you."
NOT_WATCHED = (
    "This form is not watched in real time. If you are thinking about harming yourself or are in "
    "danger, contact one of the crisis services now."
)


def answer_field(question_id: str) -> str:
    """The field name a problem with one answer is reported under (`answers.pregnancy`)."""
    return f"answers.{question_id}"


def public_organization(slug: str) -> Organization:
    """The practice whose public page this is; an unknown slug is NotFound."""
    found = Organization.objects.filter(slug=slug).first()
    if found is None:
        raise NotFound("practice")
    return found


def public_clinics(organization: Organization) -> list[Clinic]:
    """The practice's open clinics, as its public page lists them."""
    return list(Clinic.objects.for_organization(organization.pk).filter(is_active=True).order_by("name"))


def public_crisis_resources(organization_id: uuid.UUID) -> list[dict[str, str]]:
    """The practice's crisis resources (`crisis_resources` reads only, so no visitor causes a write)."""
    return crisis_resources(organization_id)


def public_actor(organization_id: uuid.UUID, address: str | None, via: str = "public") -> Actor:
    """The audit identity of someone using the public pages: no user, no permissions."""
    return Actor(
        user_id=None,
        username="public:self-screen",
        organization_id=organization_id,
        roles=frozenset(),
        ip_address=address,
        via=via[:10],
    )


def _judge(answers: Mapping[str, Any]) -> tuple[SelfScreenResult | None, list[FieldError]]:
    try:
        return triage(answers), []
    except AnswerError as exc:
        return None, [FieldError(answer_field(p.question), p.message) for p in exc.problems]


def screen(answers: Mapping[str, Any], *, address: str | None) -> SelfScreenResult:
    """Judge a self-screen; raises ValidationFailed naming each question, or TooManyRequests."""
    throttle.take("screen", address)
    result, errors = _judge(answers)
    if result is None:
        raise ValidationFailed(errors)
    return result


def _text(data: Mapping[str, Any], name: str, errors: list[FieldError], max_length: int) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(name, "Enter text."))
        return ""
    value = value.strip()
    if len(value) > max_length:
        errors.append(FieldError(name, f"Use at most {max_length} characters."))
    return value


def _clean_contact(organization: Organization, data: Mapping[str, Any]) -> dict[str, Any]:
    """The contact details normalised (phone in E.164), or ValidationFailed naming each field."""
    errors: list[FieldError] = [
        FieldError(name, "This field is not part of the contact details.")
        for name in sorted(set(data) - set(CONTACT_FIELDS))
    ]
    name = _text(data, "name", errors, 200)
    email = _text(data, "email", errors, 254).lower()
    raw_phone = _text(data, "phone", errors, 40)
    if not name:
        errors.append(FieldError("name", "Tell us your name, so the clinic knows who to ask for."))
    phone = ""
    if raw_phone:
        try:
            phone = normalise_phone(raw_phone, organization.country)
        except ValueError as exc:
            errors.append(FieldError("phone", str(exc)))
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(FieldError("email", "Enter an email address like name@example.com."))
    if not raw_phone and not email:
        errors.append(FieldError("phone", NO_CONTACT_METHOD))
    preferred = data.get("preferred_contact") or ContactMethod.PHONE
    if preferred not in ContactMethod.values:
        errors.append(FieldError("preferred_contact", "Choose phone call, text message or email."))
    elif preferred == ContactMethod.EMAIL and not email and raw_phone:
        errors.append(FieldError("email", "You asked to be contacted by email: give an email address."))
    elif preferred in (ContactMethod.PHONE, ContactMethod.SMS) and not raw_phone and email:
        errors.append(FieldError("phone", "You asked to be called or texted: give a phone number."))
    if data.get("consent_to_contact") is not True:
        errors.append(FieldError(
            "consent_to_contact", "Tick the box to let the clinic contact you, or leave your details out."
        ))
    clinic = None
    clinic_id = data.get("preferred_clinic_id")
    if clinic_id not in (None, ""):
        clinic = next((c for c in public_clinics(organization) if str(c.pk) == str(clinic_id)), None)
        if clinic is None:
            errors.append(FieldError("preferred_clinic_id", "Choose one of the practice's clinics."))
    if errors:
        raise ValidationFailed(errors)
    return {
        "name": name, "email": email, "phone": phone, "preferred_contact": preferred,
        "consent_to_contact": True, "preferred_clinic": clinic,
    }


def submit_lead(
    organization: Organization,
    answers: Mapping[str, Any],
    contact: Mapping[str, Any],
    *,
    address: str | None,
    via: str = "public",
) -> tuple[Lead, SelfScreenResult]:
    """Store the answers and contact details as one new Lead, audited; nothing on any error.

    Raises TooManyRequests, or ValidationFailed listing every problem with the answers
    (`answers.<question>`) and the contact details together.
    """
    throttle.take("lead", address)
    result, errors = _judge(answers)
    try:
        clean = _clean_contact(organization, contact)
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    if errors or result is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        lead = Lead.objects.create(
            organization=organization,
            answers=result.answers_json(),
            screen_version=result.version,
            outcome=result.outcome.value,
            reasons=list(result.reasons),
            red_flags=list(result.red_flags),
            risk_endorsed=result.risk_endorsed,
            **clean,
        )
        record(
            public_actor(organization.pk, address, via),
            Action.CREATE,
            "Lead",
            lead.pk,
            detail={"source": "self_screen", "fields": sorted(k for k, v in clean.items() if v)},
        )
    return lead, result

"""What a patient sees through a single-use link: the questionnaires, the thank-you, the dead end.

No sign-in. The page names the clinic and nothing else: whoever holds the phone may not be the
patient. An unknown, expired or used link gets one and the same page (410) that names neither
patient nor clinic. Every page carries the crisis resources, is never cached, and sends no referrer,
so the token in the address never leaves the browser (see `token_page`).

The questionnaire form (`questionnaire_form`, `answers_from`) is shared with the patient portal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ketaflow.clinical.instruments import Answers, Instrument, Item
from ketaflow.validation import NotFound, ValidationFailed

from .links import LinkUnavailable, open_link, submit_link
from .models import MeasurementSettings, default_crisis_resources

View = Callable[..., HttpResponse]

SAFE_SCHEMES = ("tel:", "sms:", "https:", "http:", "mailto:")
UNAVAILABLE_STATUS = 410


# ---------- page frame ----------


def patient_page(view: View) -> View:
    """Mark a patient-facing response never cached and not for search engines."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


def token_page(view: View) -> View:
    """A page whose address holds a secret token: a patient page that sends no referrer at all.

    With no referrer, browsers send `Origin: null` on the page's own form posts, which Django's CSRF
    check refuses; the token in the address already proves the post comes from its holder (a forger
    would need the token), so these views are exempt from the CSRF check instead.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        return response

    return csrf_exempt(patient_page(wrapper))


def crisis_resources(organization_id: uuid.UUID | None) -> list[dict[str, str]]:
    """The organization's crisis resources (generic 988 / 911 without one), with only safe links.

    Reads only: an organization without measurement settings yet gets the defaults those settings
    would start with, so a signed-out page never causes a write.
    """
    found = None
    if organization_id:
        found = (
            MeasurementSettings.objects.filter(organization_id=organization_id)
            .values_list("crisis_resources", flat=True)
            .first()
        )
    safe = []
    for entry in found or default_crisis_resources():
        href = str(entry.get("href", ""))
        safe.append({
            "label": str(entry.get("label", "")),
            "contact": str(entry.get("contact", "")),
            "href": href if href.lower().startswith(SAFE_SCHEMES) else "",
        })
    return safe


def crisis_sentence(organization_id: uuid.UUID | None) -> str:
    """The crisis resources as one sentence for an email or text message, from the clinic's own
    setting, e.g. 'If you are in crisis: 988 Suicide & Crisis Lifeline, call or text 988; ...'."""
    resources = crisis_resources(organization_id)
    parts = [f"{r['label']}, {r['contact'][:1].lower()}{r['contact'][1:]}" for r in resources]
    return "If you are in crisis: " + "; ".join(parts) + "." if parts else ""


# ---------- the questionnaire form ----------


@dataclass(frozen=True)
class Choice:
    value: int
    label: str
    input_id: str
    checked: bool


@dataclass(frozen=True)
class ItemView:
    number: int
    name: str
    anchor: str
    text: str
    choices: list[Choice]
    condition: str = ""
    optional: bool = False
    error: str = ""


@dataclass(frozen=True)
class Section:
    instrument: Instrument
    anchor: str
    items: list[ItemView]


@dataclass(frozen=True)
class ProblemLink:
    anchor: str
    text: str


@dataclass
class QuestionnaireForm:
    sections: list[Section]
    problems: list[ProblemLink] = field(default_factory=list)


def _parsed(item: Item, raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return item.lowest - 1  # no option has it, so the scorer names the item as out of range


def answers_from(data: Mapping[str, Any], instruments: Iterable[Instrument]) -> dict[str, Answers]:
    """The submitted answers by instrument and item id, from fields named `<instrument>.<item>`."""
    return {
        instrument.id: {item.id: _parsed(item, data.get(f"{instrument.id}.{item.id}"))
                        for item in instrument.items}
        for instrument in instruments
    }


def _condition(instrument: Instrument, item: Item, numbers: Mapping[str, int]) -> str:
    if item.ask_if is None:
        return ""
    asked = instrument.item(item.ask_if.item)
    answer = asked.label_for(item.ask_if.equals).lower() or str(item.ask_if.equals)
    return f"Answer only if you answered {answer} to question {numbers[asked.id]}."


def _friendly(message: str) -> str:
    if "needs an answer" in message:
        return "Please choose an answer to this question."
    return "Please choose one of the answers shown."


def questionnaire_form(
    instruments: Sequence[Instrument],
    answers: Mapping[str, Answers] | None = None,
    failure: ValidationFailed | None = None,
) -> QuestionnaireForm:
    """Each questionnaire with its items and options, the given answers ticked and each error placed
    beside its item (fields like `phq9.9`), plus a summary of the problems linking to them."""
    answers = answers or {}
    errors: dict[str, str] = {}
    unplaced: list[str] = []
    for error in failure.errors if failure else ():
        if error.field and error.field not in errors:
            errors[error.field] = error.message
        else:
            unplaced.append(error.message)
    sections, problems = [], []
    for instrument in instruments:
        raw = answers.get(instrument.id) or {}
        given = raw if isinstance(raw, Mapping) else dict(zip(instrument.item_ids, raw, strict=False))
        numbers = {item.id: index for index, item in enumerate(instrument.items, start=1)}
        items = []
        for item in instrument.items:
            name = f"{instrument.id}.{item.id}"
            anchor = f"q-{instrument.id}-{item.id}"
            message = errors.pop(name, "")
            if message:
                problems.append(ProblemLink(anchor, f"{instrument.short_name} question {numbers[item.id]}: "
                                                    f"{_friendly(message)}"))
            items.append(ItemView(
                number=numbers[item.id],
                name=name,
                anchor=anchor,
                text=item.text,
                choices=[Choice(o.value, o.label, f"{anchor}-{o.value}", given.get(item.id) == o.value)
                         for o in item.options],
                condition=_condition(instrument, item, numbers),
                optional=not item.required and item.ask_if is None,
                error=_friendly(message) if message else "",
            ))
        sections.append(Section(instrument, f"q-{instrument.id}", items))
    problems.extend(ProblemLink("", message) for message in [*errors.values(), *unplaced])
    return QuestionnaireForm(sections, problems)


# ---------- the link pages ----------


def unavailable(request: HttpRequest) -> HttpResponse:
    """One page for an unknown, expired or used link: nothing about the patient or the clinic."""
    context = {"crisis_resources": crisis_resources(None), "no_referrer": True}
    return render(request, "measurement/patient/unavailable.html", context, status=UNAVAILABLE_STATUS)


@token_page
@require_http_methods(["GET", "POST"])
def answer_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation, instruments = open_link(token)
    except (LinkUnavailable, NotFound):
        return unavailable(request)
    context = {
        "clinic_name": invitation.patient.home_clinic.name,
        "crisis_resources": crisis_resources(invitation.organization_id),
        "no_referrer": True,
    }
    answers: dict[str, Answers] = {}
    failure = None
    if request.method == "POST":
        answers = answers_from(request.POST, instruments)
        try:
            submit_link(token, answers)
        except (LinkUnavailable, NotFound):
            return unavailable(request)
        except ValidationFailed as exc:
            failure = exc
        else:
            return render(request, "measurement/patient/thanks.html", context)
    form = questionnaire_form(instruments, answers, failure)
    return render(request, "measurement/patient/link_form.html", context | {"form": form})

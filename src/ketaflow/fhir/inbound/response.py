"""QuestionnaireResponse in: answers to one of ketaflow's instruments, recorded by
`measurement.responses.record_response`, so the response is scored, its score Observations are
created and any safety answer (PHQ-9 item 9, say) raises a safety alert, exactly as in the app.

`questionnaire` names the instrument by its canonical URL (`values.questionnaire_url(id)`, with an
optional `|version` that must be the version ketaflow scores), by its Questionnaire id, or by its
LOINC panel code (`http://loinc.org/q/44249-1`). Answers are matched by linkId (the item id, or the
item's LOINC code) and read from ketaflow's answer Codings, an ordinalValue, an integer, a boolean
(yes = 1) or an option's label.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from ketaflow.clinical.instruments import AnswerError, Answers, Instrument, Item, score_instrument
from ketaflow.fhir.mapping.measures import ORDINAL_VALUE, answer_value, questionnaire_id
from ketaflow.fhir.models import StoredResource
from ketaflow.fhir.values import QUESTIONNAIRE_BASE
from ketaflow.measurement.library import instruments_for
from ketaflow.measurement.models import QuestionnaireResponse
from ketaflow.measurement.responses import record_response

from .context import Context, Origin
from .parse import fhir_moment
from .refusals import NotStored, invalid, malformed, translated

RECORDED = ("completed", "amended", "in-progress")
LOINC_QUESTIONNAIRE = "http://loinc.org/q/"
WHOLE = "QuestionnaireResponse"


def create(ctx: Context, body: dict[str, Any]) -> StoredResource:
    status = body.get("status")
    if status in ("entered-in-error", "stopped"):
        raise NotStored.because(f"A {status} response is not recorded.", f"{WHOLE}.status")
    if status not in RECORDED:
        raise malformed(f"{status} is not a QuestionnaireResponse status.", f"{WHOLE}.status")
    instrument = instrument_of(ctx, str(body.get("questionnaire") or ""))
    patient = ctx.references.patient(body.get("subject"), f"{WHOLE}.subject")
    answers, paths = read_answers(instrument, body.get("item", []))
    source = (
        QuestionnaireResponse.Source.IMPORT
        if ctx.origin == Origin.IMPORT
        else QuestionnaireResponse.Source.API
    )
    paths["authored_at"] = f"{WHOLE}.authored"
    if ctx.shared:
        _refuse_unfinished_safety_answers(instrument, answers, paths)
    with translated(paths, WHOLE):
        recorded = record_response(
            ctx.actor,
            patient.pk,
            instrument.id,
            answers,
            authored_at=_authored(ctx, body, patient.home_clinic.timezone),
            source=source,
        )
    return ctx.stored(WHOLE, recorded.response.pk)


def _refuse_unfinished_safety_answers(
    instrument: Instrument, answers: Answers, paths: dict[str, str]
) -> None:
    """Sent alone, an unfinished response that endorses a safety item is kept (unscored) and raises
    the safety alert before it is refused. Inside a transaction Bundle or a file, that refusal rolls
    everything back, alert included, so say so plainly instead of the service's usual refusal."""
    try:
        result = score_instrument(instrument, answers)
    except AnswerError:
        return  # the service names the bad answer
    if result.complete or not result.safety_details:
        return
    raise invalid(
        f"This unfinished {instrument.short_name} endorses a safety item, and a transaction Bundle or file "
        "that is refused keeps nothing, so no safety alert was raised. Complete it, or send it on its own "
        "(POST QuestionnaireResponse) so its answers are kept and the alert is raised.",
        *(paths[f"answers.{flag.item}"] for flag in result.safety_details if flag.item),
    )


def instrument_of(ctx: Context, canonical: str) -> Instrument:
    """The instrument a `questionnaire` canonical names, at the version ketaflow scores; else 422."""
    path = f"{WHOLE}.questionnaire"
    url, _, version = canonical.partition("|")
    known = instruments_for(ctx.actor.organization_id).values()
    found: Instrument | None
    if url.startswith(f"{QUESTIONNAIRE_BASE}/"):
        found = next((i for i in known if i.id == url.removeprefix(f"{QUESTIONNAIRE_BASE}/")), None)
    elif url.startswith("Questionnaire/"):
        found = next(
            (i for i in known if questionnaire_id(i.id, i.version) == url.removeprefix("Questionnaire/")),
            None,
        )
    else:
        found = next(
            (i for i in known if i.loinc_panel and i.loinc_panel == url.removeprefix(LOINC_QUESTIONNAIRE)),
            None,
        )
    if found is None:
        raise invalid(
            "Name one of ketaflow's instruments: its canonical URL "
            f"({QUESTIONNAIRE_BASE}/<id>) or its LOINC panel ({LOINC_QUESTIONNAIRE}<code>).",
            path,
        )
    if version and version != found.version:
        raise invalid(f"ketaflow scores {found.short_name} version {found.version}, not {version}.", path)
    return found


def read_answers(instrument: Instrument, items: list[dict[str, Any]]) -> tuple[Answers, dict[str, str]]:
    """Answers by item id, and the element each came from (domain field `answers.<id>` -> FHIR path)."""
    by_link = {item.id: item for item in instrument.items}
    by_link.update({item.loinc: item for item in instrument.items if item.loinc})
    answers: dict[str | int, int | None] = {}
    paths = {
        "answers": f"{WHOLE}.item",
        **{f"answers.{item.id}": f"{WHOLE}.item" for item in instrument.items},
    }
    for at, entry in _answered(items, f"{WHOLE}.item"):
        item = by_link.get(str(entry.get("linkId")))
        if item is None:
            raise invalid(f"{entry.get('linkId')} is not an item of {instrument.short_name}.", f"{at}.linkId")
        given = entry["answer"]
        if len(given) > 1:
            raise invalid(f"{instrument.short_name} item {item.id} takes one answer.", f"{at}.answer")
        answers[item.id] = answer_of(instrument, item, given[0], f"{at}.answer[0]")
        paths[f"answers.{item.id}"] = f"{at}.answer[0]"
    return answers, paths


def _answered(items: list[dict[str, Any]], at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each item carrying an answer, with its path; groups and nested items are walked."""
    for i, entry in enumerate(items):
        here = f"{at}[{i}]"
        if entry.get("answer"):
            yield here, entry
        yield from _answered(entry.get("item", []), f"{here}.item")
        for j, answer in enumerate(entry.get("answer", [])):
            yield from _answered(answer.get("item", []), f"{here}.answer[{j}].item")


def answer_of(instrument: Instrument, item: Item, answer: dict[str, Any], path: str) -> int:
    """The value of one answer; 422 naming it when it is none of the forms ketaflow reads."""
    if "valueBoolean" in answer:
        return 1 if answer["valueBoolean"] else 0
    if "valueInteger" in answer:
        return int(answer["valueInteger"])
    if "valueDecimal" in answer and Decimal(str(answer["valueDecimal"])) % 1 == 0:
        return int(Decimal(str(answer["valueDecimal"])))
    coding = answer.get("valueCoding")
    if isinstance(coding, dict):
        value = answer_value(instrument.id, item.id, coding)
        if value is None:
            value = _ordinal(coding)
        if value is None:
            label = str(coding.get("display", "")).strip().casefold()
            value = next((o.value for o in item.options if label and o.label.casefold() == label), None)
        if value is not None:
            return value
    raise invalid(
        f"Answer {instrument.short_name} item {item.id} with one of its options (a Coding with its "
        "ordinalValue, or an integer score).",
        path,
    )


def _ordinal(coding: dict[str, Any]) -> int | None:
    for extension in coding.get("extension", []):
        if extension.get("url") == ORDINAL_VALUE and "valueDecimal" in extension:
            number = Decimal(str(extension["valueDecimal"]))
            return int(number) if number % 1 == 0 else None
    return None


def _authored(ctx: Context, body: dict[str, Any], zone: str) -> datetime | None:
    """When it was answered; an import must say (a historical response dated today would mislead)."""
    if body.get("authored"):
        return fhir_moment(body["authored"], f"{WHOLE}.authored", zone)
    if ctx.origin == Origin.IMPORT:
        raise invalid("Give the time the response was authored.", f"{WHOLE}.authored", code="required")
    return None

"""FHIR mappers for measurement-based care: Questionnaire, QuestionnaireResponse and survey Observations.

- Questionnaire: every built-in instrument (projected from the Organization row, so each organization
  serves them) and each clinic-loaded definition (`measurement.ClinicInstrument`, retired when
  replaced). Items are `choice` questions whose answer options are Codings carrying the answer's
  score in the `ordinalValue` extension, so a client can score a response without ketaflow.
- QuestionnaireResponse: one per stored response, answers as the same Codings.
- One Observation per answered item (`<response id>-<linkId>`), derived from the response.
- One Observation per stored score (total, risk level or subscale), derived from the response, with
  the item Observations it summarises as members.

Definitions marked `ships_text: false` hold placeholders for licensed wording: their texts and
answer labels are left out rather than sent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ketaflow.clinical.instruments import (
    DefinitionError,
    Instrument,
    Item,
    builtin_instruments,
    parse_definition,
)
from ketaflow.clinics.models import Organization
from ketaflow.measurement.models import ClinicInstrument, QuestionnaireResponse, ScoreObservation

from ..projection import projects
from ..values import (
    KETAFLOW,
    LOINC,
    OBSERVATION_CATEGORY,
    coding,
    compact,
    concept,
    instant,
    number,
    quantity,
    questionnaire_url,
    ref,
)

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
SURVEY = concept(coding(OBSERVATION_CATEGORY, "survey", "Survey"))
ENTERED_IN_ERROR = QuestionnaireResponse.Status.ENTERED_IN_ERROR
PATIENT_SOURCES = (QuestionnaireResponse.Source.LINK, QuestionnaireResponse.Source.PORTAL)
_NOT_ID = re.compile(r"[^A-Za-z0-9\-.]")


def fhir_id(text: str) -> str:
    """`text` as a FHIR id: characters outside [A-Za-z0-9-.] become "-"; over 64 characters, the
    first 55 and a short hash of the whole (so two long ids stay distinct)."""
    safe = _NOT_ID.sub("-", text)
    if len(safe) <= 64:
        return safe
    return f"{safe[:55]}-{hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8]}"


def questionnaire_id(instrument_id: str, version: str) -> str:
    """The Questionnaire id of one version of an instrument: "phq9-1.0.0"."""
    return fhir_id(f"{instrument_id}-{version}")


def item_system(instrument_id: str) -> str:
    """ketaflow's code system for the items of an instrument (codes are linkIds), used where an item
    has no LOINC code."""
    return f"{KETAFLOW}/CodeSystem/{instrument_id}"


def answer_system(instrument_id: str, item_id: str) -> str:
    """The code system of one item's answers: the code is the answer's value ("0".."3")."""
    return f"{item_system(instrument_id)}/answers/{item_id}"


def answer_coding(instrument_id: str, item_id: str, value: int, label: str = "") -> dict[str, Any]:
    """The Coding of one answer, its score in the ordinalValue extension."""
    return {
        "extension": [{"url": ORDINAL_VALUE, "valueDecimal": value}],
        **coding(answer_system(instrument_id, item_id), str(value), label),
    }


def answer_value(instrument_id: str, item_id: str, value_coding: dict[str, Any]) -> int | None:
    """The answer value a Coding of `answer_coding` stands for; None when it is not one."""
    code = str(value_coding.get("code", ""))
    if value_coding.get("system") != answer_system(instrument_id, item_id) or not code.lstrip("-").isdigit():
        return None
    return int(code)


def computable_name(short_name: str) -> str:
    """A Questionnaire.name ([A-Z][A-Za-z0-9_]*) from a display name: "C-SSRS screener" -> "CSSRSScreener"."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", short_name) if w]
    name = "".join(w[0].upper() + w[1:] for w in words)
    return name if name[:1].isalpha() else f"Q{name}"


def definition_of(organization_id: Any, instrument_id: str, version: str) -> Instrument | None:
    """The definition a response was given under: the built-in of that version, or the clinic's."""
    builtin = builtin_instruments().get(instrument_id)
    if builtin is not None:
        return builtin if builtin.version == version else None
    row = ClinicInstrument.objects.filter(
        organization_id=organization_id, instrument_id=instrument_id, version=version
    ).first()
    try:
        return parse_definition(row.document) if row is not None else None
    except DefinitionError:
        return None


# --- Questionnaire ---------------------------------------------------------------------------------


def questionnaire(instrument: Instrument, *, status: str, date: datetime | None = None) -> dict[str, Any]:
    """The Questionnaire of one instrument version."""
    shown = instrument.ships_text
    return compact(
        {
            "resourceType": "Questionnaire",
            "id": questionnaire_id(instrument.id, instrument.version),
            "url": questionnaire_url(instrument.id),
            "version": instrument.version,
            "name": computable_name(instrument.short_name),
            "title": instrument.name,
            "status": status,
            "subjectType": ["Patient"],
            "date": instant(date) if date else None,
            "description": instrument.instructions if shown else "",
            "copyright": f"{instrument.licence}\n\n{instrument.attribution}",
            "code": [coding(LOINC, instrument.loinc_panel)] if instrument.loinc_panel else [],
            "item": [_question(instrument, item) for item in instrument.items],
        }
    )


def _question(instrument: Instrument, item: Item) -> dict[str, Any]:
    shown = instrument.ships_text
    return {
        "linkId": item.id,
        "code": [coding(LOINC, item.loinc)] if item.loinc else [],
        "text": item.text if shown else "",
        "type": "choice",
        "enableWhen": _enable_when(instrument, item),
        "required": item.required,
        "answerOption": [
            {"valueCoding": answer_coding(instrument.id, item.id, o.value, o.label if shown else "")}
            for o in item.options
        ],
    }


def _enable_when(instrument: Instrument, item: Item) -> list[dict[str, Any]]:
    """An `ask_if` item is enabled by its trigger answer (C-SSRS 3-5 by a yes to question 2)."""
    if item.ask_if is None:
        return []
    trigger, value = instrument.item(item.ask_if.item), item.ask_if.equals
    label = trigger.label_for(value) if instrument.ships_text else ""
    return [
        {
            "question": trigger.id,
            "operator": "=",
            "answerCoding": answer_coding(instrument.id, trigger.id, value, label),
        }
    ]


@projects(Organization, organization=lambda row: row.pk)
def builtin_questionnaires(row: Organization) -> list[dict[str, Any]]:
    """The built-in instruments, served by every organization."""
    return [
        questionnaire(instrument, status="active" if instrument.ships_text else "draft")
        for instrument in builtin_instruments().values()
    ]


@projects(ClinicInstrument)
def clinic_questionnaire(row: ClinicInstrument) -> list[dict[str, Any]]:
    """A clinic's own definition: retired once replaced, draft while it holds placeholders."""
    try:
        instrument = parse_definition(row.document)
    except DefinitionError:
        return []
    status = "retired" if not row.is_active else "active" if instrument.ships_text else "draft"
    return [questionnaire(instrument, status=status, date=row.loaded_at)]


# --- QuestionnaireResponse and its item Observations -------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One stored answer with what its definition says about it (texts empty when withheld)."""

    link_id: str
    loinc: str | None
    value: int
    label: str
    text: str


def answers_of(row: QuestionnaireResponse, instrument: Instrument | None) -> list[Answer]:
    shown = instrument is None or instrument.ships_text
    known = {item.id: item for item in instrument.items} if instrument else {}
    found = []
    for entry in row.answers:
        link_id, item = str(entry["item"]), known.get(str(entry["item"]))
        found.append(
            Answer(
                link_id=link_id,
                loinc=entry.get("code") or (item.loinc if item else None),
                value=int(entry["value"]),
                label=str(entry.get("display") or "") if shown else "",
                text=item.text if item and shown else "",
            )
        )
    return found


def _staff_ref(user: Any) -> dict[str, str] | None:
    staff = getattr(user, "staff", None) if user is not None else None
    return ref("Practitioner", staff.pk) if staff is not None else None


def author_of(row: QuestionnaireResponse) -> dict[str, str] | None:
    """The staff member who recorded it; else the patient, for the patient's own link or portal."""
    staff = _staff_ref(row.recorded_by)
    if staff is not None:
        return staff
    return ref("Patient", row.patient_id) if row.source in PATIENT_SOURCES else None


def source_of_answers(row: QuestionnaireResponse, instrument: Instrument | None) -> dict[str, str] | None:
    """Who answered: the patient for self-report, the rating clinician for a clinician scale."""
    if row.source in PATIENT_SOURCES or (instrument is not None and instrument.respondent == "patient"):
        return ref("Patient", row.patient_id)
    return _staff_ref(row.recorded_by)


def item_observation_id(response_id: Any, link_id: str) -> str:
    return f"{response_id}-{fhir_id(link_id)}"


@projects(QuestionnaireResponse, select_related=("recorded_by__staff",))
def questionnaire_response(row: QuestionnaireResponse) -> list[dict[str, Any]]:
    """The response and one Observation per answered item."""
    instrument = definition_of(row.organization_id, row.instrument_id, row.instrument_version)
    answers = answers_of(row, instrument)
    source = source_of_answers(row, instrument)
    body = compact(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(row.pk),
            "questionnaire": f"{questionnaire_url(row.instrument_id)}|{row.instrument_version}",
            "status": row.status,
            "subject": ref("Patient", row.patient_id),
            "authored": instant(row.authored_at),
            "author": author_of(row),
            "source": source,
            "item": [
                {
                    "linkId": a.link_id,
                    "text": a.text,
                    "answer": [
                        {"valueCoding": answer_coding(row.instrument_id, a.link_id, a.value, a.label)}
                    ],
                }
                for a in answers
            ],
        }
    )
    short_name = instrument.short_name if instrument else row.instrument_id
    return [body, *(_item_observation(row, a, source, short_name) for a in answers)]


def _item_observation(
    row: QuestionnaireResponse, answer: Answer, performer: dict[str, str] | None, short_name: str
) -> dict[str, Any]:
    name = answer.text or f"{short_name} item {answer.link_id}"
    code = (
        coding(LOINC, answer.loinc)
        if answer.loinc
        else coding(item_system(row.instrument_id), answer.link_id)
    )
    return compact(
        {
            "resourceType": "Observation",
            "id": item_observation_id(row.pk, answer.link_id),
            "status": "entered-in-error" if row.status == ENTERED_IN_ERROR else "final",
            "category": [SURVEY],
            "code": concept(code, text=name),
            "subject": ref("Patient", row.patient_id),
            "effectiveDateTime": instant(row.authored_at),
            "performer": [performer] if performer else [],
            "valueCodeableConcept": concept(
                answer_coding(row.instrument_id, answer.link_id, answer.value, answer.label),
                text=answer.label,
            ),
            "derivedFrom": [ref("QuestionnaireResponse", row.pk)],
        }
    )


# --- Scores ----------------------------------------------------------------------------------------


def _members(row: ScoreObservation, instrument: Instrument | None) -> list[str]:
    """The answered items a score summarises: the scored items for a total, the cluster's for a subscale."""
    answered = [str(entry["item"]) for entry in row.response.answers]
    if instrument is None:
        return answered
    if row.kind == ScoreObservation.Kind.SUBSCORE:
        wanted = set(instrument.scoring.clusters.get(row.key, ()))
    else:
        wanted = {item.id for item in instrument.scored_items}
    return [link_id for link_id in answered if link_id in wanted]


@projects(ScoreObservation, select_related=("response",))
def score_observation(row: ScoreObservation) -> list[dict[str, Any]]:
    """A total, risk level or subscale, with its band as the interpretation."""
    response = row.response
    instrument = definition_of(row.organization_id, response.instrument_id, response.instrument_version)
    withdrawn = response.status == ENTERED_IN_ERROR or not row.is_current
    value = int(row.value) if row.value.is_integer() else number(row.value)
    return [
        compact(
            {
                "resourceType": "Observation",
                "id": str(row.pk),
                "status": "entered-in-error" if withdrawn else "final",
                "category": [SURVEY],
                "code": concept(coding(row.code_system, row.code), text=row.display),
                "subject": ref("Patient", row.patient_id),
                "effectiveDateTime": instant(row.effective_at),
                "valueQuantity": quantity(value, "{score}"),
                "interpretation": [{"text": row.band}] if row.band else [],
                "hasMember": [
                    ref("Observation", item_observation_id(response.pk, link_id))
                    for link_id in _members(row, instrument)
                ],
                "derivedFrom": [ref("QuestionnaireResponse", response.pk)],
            }
        )
    ]

"""Request and response bodies for measurement-based care: instruments, responses, progress, plans,
links, safety alerts and the due list.

Answers arrive as a list in item order or an object by item id; which item is wrong (unknown, out of
range, missing) is decided by the scoring core, so the error names the item (`answers.9`) the same
way on every surface. Times are ISO 8601 with a time zone.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from ninja import Path, Schema
from pydantic import BeforeValidator, Field, PlainValidator
from pydantic_core import PydanticCustomError

from ketaflow.clinical.instruments import Answers
from ketaflow.measurement.models import Invitation, SafetyAlert, Stage, Treatment

from .pagination import PageOut, PageQuery
from .schemas import Id, QueryId, Ref, StrictInput


def _id_in_path(kind: str, example: str = "0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b") -> Any:
    return Path(..., description=f"The {kind}'s id.", example=example)


# Plain text on purpose, as in schemas.py: a malformed id is answered like a missing record (404).
InstrumentId = Annotated[str, _id_in_path("instrument", "phq9")]
ResponseId = Annotated[str, _id_in_path("questionnaire response")]
SafetyAlertId = Annotated[str, _id_in_path("safety alert")]


def _enum(values: list[str]) -> Any:
    return {"enum": values}


def _parse_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_format", "Enter a time as YYYY-MM-DDTHH:MM:SS with a time zone.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "datetime_format", "Enter a time as YYYY-MM-DDTHH:MM:SS with a time zone."
        ) from None
    if parsed.tzinfo is None:
        raise PydanticCustomError("datetime_zone", "Give a time zone with the time (Z or +HH:MM).")
    return parsed


IsoDateTime = Annotated[datetime, BeforeValidator(_parse_datetime)]
"""A moment written in ISO 8601 with its time zone (`2025-03-01T09:30:00-07:00`, or `...Z`)."""


def _answers(value: Any) -> Any:
    """Keep the shape (list or object) and hand every value to the scoring core, which names the item.

    JSON true/false are kept as text so they are refused as out of range (never read as 1 or 0).
    """
    if isinstance(value, list):
        return [str(v).lower() if isinstance(v, bool) else v for v in value]
    if isinstance(value, dict):
        return {str(k): str(v).lower() if isinstance(v, bool) else v for k, v in value.items()}
    raise PydanticCustomError(
        "answers_type", "Send the answers as a list in item order or an object by item id."
    )


AnswersIn = Annotated[
    Answers,
    PlainValidator(_answers, json_schema_input_type=list[int | None] | dict[str, int | None]),
]


# Instruments ------------------------------------------------------------------------------------


class RangeOut(Schema):
    min: float
    max: float


class BandOut(Schema):
    min: float
    max: float
    label: str


class SafetyRuleOut(Schema):
    flag: str
    message: str
    item: str | None = Field(description="The item that raises the flag (None for a risk-level rule).")
    above: int = Field(description="The flag is raised by an answer above this value.")
    levels: list[str] = Field(description="For risk scales: the levels that raise the flag.")


class ThresholdOut(Schema):
    at_most: float
    source: str


class InstrumentSummaryOut(Schema):
    id: str
    version: str
    name: str
    short_name: str
    respondent: str = Field(json_schema_extra=_enum(["patient", "clinician"]))
    scoring_method: str
    total_range: RangeOut
    bands: list[BandOut]
    band_source: str
    safety: list[SafetyRuleOut]
    remission: ThresholdOut | None
    loinc_panel: str | None
    loinc_total: str | None
    licence: str
    attribution: str
    source: str
    ships_text: bool = Field(description="False for a licensed scale: item wording is not returned.")
    built_in: bool


class InstrumentsOut(Schema):
    items: list[InstrumentSummaryOut]


class OptionOut(Schema):
    value: int
    label: str


class AskIfOut(Schema):
    item: str
    equals: int


class ItemOut(Schema):
    id: str
    text: str | None = Field(description="Null for a licensed scale (ships_text false).")
    loinc: str | None
    scored: bool
    required: bool
    ask_if: AskIfOut | None
    options: list[OptionOut]


class InstrumentOut(InstrumentSummaryOut):
    instructions: str | None
    subscales: dict[str, list[str]] = Field(description="Cluster name -> its item ids (PCL-5).")
    items: list[ItemOut]


# Responses --------------------------------------------------------------------------------------


class ResponseIn(StrictInput):
    instrument_id: str = Field(description="An id from GET /api/v1/instruments.")
    answers: AnswersIn = Field(
        description=(
            'A list in item order ([1, 0, 2, ...]) or an object by item id ({"9": 2}); null (or a '
            "missing entry) for an item not answered. Every required item needs an answer."
        )
    )
    authored_at: IsoDateTime | None = Field(None, description="When the patient answered; default now.")


class EnteredInErrorIn(StrictInput):
    reason: str = ""


class AnswerOut(Schema):
    item: str
    code: str | None = Field(description="The item's LOINC code, when it has one.")
    value: int
    display: str


class InstrumentRef(Schema):
    id: str
    version: str
    short_name: str


class ScoreOut(Schema):
    total: float | None = Field(description="The total (the risk level for C-SSRS).")
    band: str | None
    subscores: dict[str, float]
    findings: list[str]
    safety_flags: list[str]


class ResponseOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    instrument: InstrumentRef
    authored_at: datetime
    recorded_at: datetime
    source: str
    status: str = Field(json_schema_extra=_enum(["completed", "entered-in-error"]))
    answers: list[AnswerOut]
    score: ScoreOut


class RecordedResponseOut(ResponseOut):
    safety_alert_id: uuid.UUID | None = Field(description="The safety alert this response raised, if any.")


class ResponsePage(PageOut):
    items: list[ResponseOut]


class ResponseQuery(PageQuery):
    instrument_id: str = Field("", description="Only this instrument's responses.")
    include_entered_in_error: bool = Field(False, description="Also list responses withdrawn as errors.")


# Progress ---------------------------------------------------------------------------------------


class PointOut(Schema):
    at: datetime
    value: float
    band: str
    response_id: uuid.UUID
    flagged: bool = Field(description="The response raised a safety flag.")


class MeasurementOut(Schema):
    at: datetime
    value: float


class JudgementOut(Schema):
    value: bool | None = Field(description="Null when it cannot be judged yet; `reason` says why.")
    reason: str


class RulesOut(Schema):
    response_reduction_percent: float
    remission_at_most: float | None
    relapse_consecutive: int
    non_response_after: int
    sources: dict[str, str]


class InstrumentProgressOut(Schema):
    instrument: InstrumentRef
    points: list[PointOut]
    baseline: MeasurementOut | None
    latest: MeasurementOut | None
    change: float | None
    percent_change: float | None
    response_threshold: float | None = Field(description="The score at or below which the patient responds.")
    response: JudgementOut
    remission: JudgementOut
    relapse: JudgementOut
    non_response: JudgementOut
    treatments_given: int
    reasons: list[str]
    rules: RulesOut


class ProgressOut(Schema):
    patient_id: uuid.UUID
    instruments: list[InstrumentProgressOut]


# Plan, treatments, links ------------------------------------------------------------------------


class PlanIn(StrictInput):
    stage: str = Field(json_schema_extra=_enum(Stage.values))
    responsible_clinician_id: Id | None = Field(
        None, description="A prescriber, nurse or therapist; receives this patient's safety alerts."
    )
    instruments: list[str] | None = Field(
        None, description="Instrument ids; leave out for the schedule's defaults for the stage."
    )


class DueOut(Schema):
    id: uuid.UUID
    instrument_id: str
    due_at: datetime
    reason: str


class PlanOut(Schema):
    patient_id: uuid.UUID
    is_set: bool = Field(description="False until a plan is saved; the other fields are then empty.")
    stage: str | None
    stage_started_at: datetime | None
    responsible_clinician: Ref | None
    instruments: list[str] = Field(description="The plan's own list (empty: the schedule's defaults).")
    instruments_planned: list[str] = Field(description="What the patient is asked to complete.")
    updated_at: datetime | None
    due: list[DueOut]


class TreatmentIn(StrictInput):
    occurred_at: IsoDateTime
    status: Literal["given", "scheduled", "cancelled"] = "given"
    description: str = ""


class TreatmentOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    occurred_at: datetime
    status: str
    description: str
    recorded_at: datetime


class LinkIn(StrictInput):
    instrument_ids: list[str] = Field(description="Patient-reported instruments (not licensed scales).")
    channel: Literal["email", "sms", "in_person"] = "in_person"


class LinkOut(Schema):
    url: str = Field(description="The patient's single-use link; shown this once, only its hash is kept.")
    expires_at: datetime
    instruments: list[str]


# Safety alerts and the due list -----------------------------------------------------------------


class PatientRef(Schema):
    id: uuid.UUID
    mrn: str
    name: str


class FlagOut(Schema):
    name: str
    message: str
    item: str | None
    value: int | None


class SafetyAlertOut(Schema):
    id: uuid.UUID
    patient: PatientRef
    instrument_id: str
    response_id: uuid.UUID
    flags: list[FlagOut]
    raised_at: datetime
    status: str = Field(json_schema_extra=_enum(SafetyAlert.Status.values))
    assigned_to: Ref | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="The name of who acknowledged it.")
    action: str
    action_note: str


class SafetyAlertPage(PageOut):
    items: list[SafetyAlertOut]


class SafetyAlertQuery(PageQuery):
    status: Literal["open", "acknowledged", ""] = Field("", description="open or acknowledged; empty: both.")


class AcknowledgeIn(StrictInput):
    action: str = Field("", json_schema_extra=_enum(SafetyAlert.Action.values))
    note: str = Field("", description="What you did and found.")


class DueRowOut(Schema):
    id: uuid.UUID
    patient: PatientRef
    instrument_id: str
    instrument: str = Field(description="The instrument's short name.")
    due_at: datetime
    reason: str


class DuePage(PageOut):
    items: list[DueRowOut]


class DueQuery(PageQuery):
    overdue: bool = Field(False, description="True: the overdue list; false: due now, not yet overdue.")
    clinic_id: QueryId = Field(None, description="Only patients of this home clinic.")


if set(get_args(TreatmentIn.model_fields["status"].annotation)) != set(Treatment.Status.values) or set(
    get_args(LinkIn.model_fields["channel"].annotation)
) != set(Invitation.Channel.values):
    raise RuntimeError("TreatmentIn.status and LinkIn.channel must list exactly the model's choices")

"""Request and response bodies of the treatment-session API (the chairside record as JSON).

Inputs are strict (`extra="forbid"`): a misspelt vital sign in a monitor's batch is refused, named
`readings[3].sytolic_bp`, not silently dropped. Amounts are sent as JSON numbers and come back as
decimal strings ("37.5"), as in the plans API. Times are ISO 8601 with a time zone.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Path, Schema
from pydantic import Field

from ketaflow.sessions.models import TreatmentSession
from ketaflow.sessions.vitals import BATCH_LIMIT

from .measure_schemas import AnswersIn, IsoDateTime
from .pagination import PageOut, PageQuery
from .schemas import Id, QueryDate, StrictInput


def _id_in_path(kind: str) -> Any:
    return Path(..., description=f"The {kind}'s id (a UUID).", example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")


# Plain text on purpose, as in schemas.py: a malformed id is answered like a missing record (404).
SessionId = Annotated[str, _id_in_path("treatment session")]
PreparationId = Annotated[str, _id_in_path("dose preparation")]
VitalAlertId = Annotated[str, _id_in_path("vital-sign alert")]

Reading = int | float
Channel = Literal["print", "email", "sms"]
PRINT: Channel = "print"
Amount = Annotated[float, Field(gt=0)]
SESSION_STATUSES: list[str] = TreatmentSession.Status.values


# Inputs ---------------------------------------------------------------------------------------------


class VitalsIn(StrictInput):
    """One set of vital signs as JSON numbers; leave out what was not measured. Impossible values
    (a systolic of 20) and fractions where the chart keeps whole numbers are refused by field."""

    systolic_bp: Reading | None = Field(None, description="mmHg")
    diastolic_bp: Reading | None = Field(None, description="mmHg")
    heart_rate: Reading | None = Field(None, description="beats/min")
    respiratory_rate: Reading | None = Field(None, description="breaths/min")
    oxygen_saturation: Reading | None = Field(None, description="%")
    temperature_c: Reading | None = Field(None, description="°C")


class VitalsSetIn(VitalsIn):
    measured_at: IsoDateTime | None = Field(None, description="Default: now.")


class ReadingIn(VitalsIn):
    """One reading of a monitor feed."""

    measured_at: IsoDateTime
    device: str = Field("", max_length=80, description="The monitor's name or serial number.")


class BatchIn(StrictInput):
    readings: list[ReadingIn] = Field(
        max_length=BATCH_LIMIT, description=f"At most {BATCH_LIMIT} readings; all are stored or none."
    )


class CheckInIn(StrictInput):
    appointment_id: Id = Field(description="Today's treatment appointment on a signed plan.")


class ChecklistIn(StrictInput):
    fasting_confirmed: bool
    escort_name: str = ""
    escort_phone: str = ""
    medications_taken: str = Field("", description="Today's medications, or 'none'.")
    pregnancy_test: Literal["negative", "positive", "not_applicable", ""] = ""
    intention: str = ""
    mood: int | None = Field(None, ge=0, le=10)
    playlist: str = ""
    room_preferences: str = ""
    pre_dose: VitalsIn | None = Field(None, description="The pre-dose vital signs.")


class ReasonIn(StrictInput):
    reason: str = Field(description="Required; kept with the record.")


class PreparationIn(StrictInput):
    lot_id: Id
    location_id: Id
    volume_drawn_ml: Amount | None = Field(None, description="Vials: the volume drawn up.")
    units: int | None = Field(None, gt=0, description="Devices or troches: how many.")
    bag_ml: Amount | None = None
    pump_rate_ml_per_h: Amount | None = None
    override_reason: str = Field("", description="A dose above the plan: why (prescribers only).")


class EventIn(StrictInput):
    kind: Literal["start", "pause", "resume", "rate", "stop", "give"]
    at: IsoDateTime | None = Field(None, description="Default: now; never in the future.")
    rate_ml_per_h: Amount | None = Field(None, description="For start and rate.")
    amount_mg: Amount | None = Field(None, description="For give (a device, an injection).")
    note: str = ""


class AlertResponseIn(StrictInput):
    response: Literal["pause_infusion", "give_medication", "call_prescriber"]
    note: str = Field("", description="Required when calling the prescriber.")


class SideEffectIn(StrictInput):
    kind: str = Field(description="A side-effect key: nausea, vomiting, dizziness, ...")
    severity: str = Field(description="mild, moderate or severe.")
    onset_at: IsoDateTime | None = None
    note: str = ""


class RescueDoseIn(StrictInput):
    drug_key: str = Field(description="A drug of the clinic's formulary.")
    dose_mg: Amount
    route: str
    reason: str
    given_at: IsoDateTime | None = None
    lot_id: Id | None = Field(None, description="Controlled drugs: the lot...")
    location_id: Id | None = Field(None, description="...and where it was taken from.")
    alert_id: Id | None = Field(None, description="The alert this answers, if any.")
    override_reason: str = Field("", description="Above the formulary's maximum: why (prescribers only).")


class ScoreIn(StrictInput):
    instrument_id: Literal["cadss6", "moaas"]
    answers: AnswersIn = Field(description="Answers in item order, or an object by item id.")


class AldreteIn(StrictInput):
    activity: int = Field(ge=0, le=2)
    respiration: int = Field(ge=0, le=2)
    circulation: int = Field(ge=0, le=2)
    consciousness: int = Field(ge=0, le=2)
    oxygen_saturation: int = Field(ge=0, le=2)


class DischargeIn(StrictInput):
    escort_handover_name: str = Field(description="Who the patient left with.")
    send_instructions: list[Channel] = Field(default_factory=lambda: [PRINT], description="print, email, sms")
    override_reason: str = Field("", description="Discharging before ready: why (prescribers only).")


class SignIn(StrictInput):
    note: str | None = Field(None, description="The note as edited; default the assembled note.")


class AmendmentIn(StrictInput):
    note: str
    reason: str


class SessionQuery(PageQuery):
    date: QueryDate = Field(None, description="Checked in on this date (YYYY-MM-DD, the clinic's day).")
    status: str | None = Field(None, json_schema_extra={"enum": list[Any](SESSION_STATUSES)})


# Outputs --------------------------------------------------------------------------------------------


class LimitOut(Schema):
    field: str
    label: str
    unit: str
    low: str | None
    high: str | None
    text: str


class RulesOut(Schema):
    vitals_every_min: int | None
    limits: list[LimitOut]
    systolic_rise_mmhg: int | None
    pre_dose: list[LimitOut]
    min_observation_min: int
    second_check: bool
    fasting_hours: int | None
    escort_required: bool
    pregnancy_test: bool
    source: str = Field(description="Where the numbers come from.")
    verify: list[str] = Field(description="Rules that are a clinic default to confirm.")


class FindingOut(Schema):
    field: str
    message: str
    source: str = ""


class ReadinessOut(Schema):
    ready: bool
    blockers: list[FindingOut]
    rules_source: str


class DoseOut(Schema):
    planned_mg: str
    summary: str
    arithmetic: list[str]


class PreparationOut(Schema):
    id: uuid.UUID
    lot_id: uuid.UUID
    lot_number: str
    product: str
    expires_on: date
    location_id: uuid.UUID
    concentration_mg_per_ml: str | None
    volume_drawn_ml: str | None
    units: int | None
    drawn_mg: str
    bag_ml: str | None
    pump_rate_ml_per_h: str | None
    override_reason: str
    prepared_at: datetime
    verified: bool
    verified_at: datetime | None


class EventOut(Schema):
    id: uuid.UUID
    kind: str
    at: datetime
    rate_ml_per_h: str | None
    amount_mg: str | None
    note: str


class DeliveryOut(Schema):
    state: str
    running_minutes: str
    volume_ml: str
    mg: str
    arithmetic: list[str]


class TimerOut(Schema):
    due_at: datetime | None
    every_min: int | None
    seconds_left: int | None
    overdue: bool


class ReadingOut(Schema):
    t: datetime
    sys: int | None
    dia: int | None
    hr: int | None
    spo2: int | None
    rr: int | None
    temp: str | None = None
    phase: str | None = None
    source: str | None = None


class AlertOut(Schema):
    id: uuid.UUID
    field: str
    value: str
    direction: str = Field(description="low, high or rise (above the baseline).")
    limit_text: str
    message: str
    source: str
    raised_at: datetime
    response: str | None
    response_note: str
    responded_at: datetime | None


class SideEffectOut(Schema):
    id: uuid.UUID
    kind: str
    severity: str
    onset_at: datetime
    resolved_at: datetime | None
    note: str


class RescueOut(Schema):
    id: uuid.UUID
    drug_key: str
    drug_name: str
    dose_mg: str
    route: str
    given_at: datetime
    reason: str
    controlled: bool
    override_reason: str
    alert_id: uuid.UUID | None
    lot_id: uuid.UUID | None


class ScoreOut(Schema):
    response_id: uuid.UUID
    instrument_id: str
    value: float
    scored_at: datetime


class DischargeOut(Schema):
    ready: bool
    reasons: list[FindingOut] = Field(description="Each unmet condition, by field.")
    minutes_left: int = Field(description="Of the minimum observation time; 0 once it has passed.")


class DischargeStateOut(DischargeOut):
    min_observation_min: int
    observation_started_at: datetime | None


class AldreteOut(Schema):
    items: dict[str, int] | None
    total: int | None
    at: datetime | None
    minimum_total: int
    alternative_total: int | None = Field(description="Allowed with 2 on respiration and saturation.")
    source: str
    suggested: dict[str, int | None] = Field(description="From the latest reading; the nurse decides.")


class FollowUpOut(Schema):
    instrument_id: str
    due_at: datetime
    reason: str


class FormularyDrugOut(Schema):
    key: str
    name: str
    doses_mg: list[str]
    routes: list[str]
    max_mg: str
    controlled: bool
    indication: str
    schedule: str


class AmendmentOut(Schema):
    id: uuid.UUID
    reason: str
    note: str
    previous_note: str
    recorded_at: datetime


class SessionSummaryOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None
    plan_id: uuid.UUID
    clinic_id: uuid.UUID | None
    setting: str
    route: str
    status: str = Field(json_schema_extra={"enum": list[Any](SESSION_STATUSES)})
    checked_in_at: datetime
    protocol_label: str
    planned_mg: str
    delivered_mg: str | None
    open_alerts: int


class SessionPage(PageOut):
    items: list[SessionSummaryOut]


class SessionOut(SessionSummaryOut):
    status_reason: str
    dose: DoseOut
    rules: RulesOut
    checklist: dict[str, Any]
    readiness: ReadinessOut | None
    override_reason: str
    may_start: list[str] = Field(description="Why dosing cannot start yet; empty when it can.")
    preparations: list[PreparationOut]
    events: list[EventOut]
    delivery: DeliveryOut | None
    timer: TimerOut
    baseline: ReadingOut | None
    vitals: list[ReadingOut]
    alerts: list[AlertOut]
    side_effects: list[SideEffectOut]
    rescue_doses: list[RescueOut]
    scores: list[ScoreOut]
    aldrete: AldreteOut
    discharge: DischargeStateOut
    reconciliation: dict[str, Any] | None
    reconciled: bool | None
    formulary: list[FormularyDrugOut]
    formulary_source: str
    follow_up: list[FollowUpOut] = Field(description="Questionnaires due after discharge.")
    ready_to_leave_at: datetime | None
    escort_handover_name: str
    discharged_at: datetime | None
    discharge_override_reason: str
    instructions_sent: list[Any]
    note: str
    signed_at: datetime | None
    amendments: list[AmendmentOut]


class BatchOut(Schema):
    stored: int
    alerts: list[AlertOut]


class VitalsOut(Schema):
    reading: ReadingOut
    alerts: list[AlertOut]

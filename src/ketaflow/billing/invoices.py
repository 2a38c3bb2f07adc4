"""Invoices: made from price-list lines or a patient's appointments, numbered per organization,
issued, and voided with a reason.

- Numbers are the organization's prefix and a sequence (INV-000001, ...) taken from
  `BillingSettings.next_invoice_number` under SELECT ... FOR UPDATE, so two clerks never get the same
  number; the database's unique constraint backs it. A number is given when the invoice is made
  (a draft), and a voided invoice keeps it, so the sequence has no silent gaps.
- Lines copy their description, amount and codes when made; a later price change never rewrites an
  invoice. An appointment is invoiced at most once (on invoices that are not void).
- Diagnosis codes (ICD-10-CM) are copied from the plan's condition (condition catalogue) and the
  patient's active problem list, for the superbill; every code is [verify] (reference §7).

Making, issuing and voiding need EDIT_SCHEDULE (the front desk); reading needs VIEW_DEMOGRAPHICS.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.conditions import catalogue
from ketaflow.clinics.models import TenantQuerySet
from ketaflow.patients.models import Condition, Patient
from ketaflow.patients.services import _load
from ketaflow.plans.models import TreatmentPlan
from ketaflow.scheduling.models import ACTIVE, Appointment
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from .amounts import check_cents
from .codes import codes_for_visit
from .defaults import settings_for
from .models import BillingSettings, Invoice, InvoiceLine, PriceItem
from .prices import SELLABLE, active_prices, clean_codes

MAX_REASON = 300
MAX_LINES = 100
INVOICEABLE = ACTIVE  # booked, arrived or completed: a visit that was not cancelled


def invoices_of(organization_id: uuid.UUID) -> TenantQuerySet:
    return Invoice.objects.for_organization(organization_id)


def next_number(organization_id: uuid.UUID) -> str:
    """Take the organization's next invoice number; call inside the caller's transaction."""
    settings_for(organization_id)
    config = BillingSettings.objects.select_for_update().get(organization_id=organization_id)
    number = config.next_invoice_number
    BillingSettings.objects.filter(pk=config.pk).update(next_invoice_number=number + 1)
    return f"{config.invoice_prefix}{number:06d}"


def diagnosis_codes(patient: Patient, plan: TreatmentPlan | None) -> list[dict[str, str]]:
    """ICD-10-CM codes: the plan's condition first, then the active problem list (no repeats)."""
    found: list[dict[str, str]] = []
    if plan is not None:
        try:
            condition = catalogue().get(plan.condition)
        except KeyError:
            condition = None
        if condition is not None and condition.icd10:
            found.append({"code": condition.icd10, "display": condition.display, "source": "plan"})
    problems = (
        Condition.objects.for_organization(patient.organization_id)
        .filter(patient=patient, status=Condition.Status.ACTIVE)
        .exclude(icd10_code="")
    )
    for problem in problems:
        if all(item["code"] != problem.icd10_code for item in found):
            found.append({"code": problem.icd10_code, "display": problem.display, "source": "problem list"})
    return found


def _plan_of(actor: Actor, patient: Patient, plan_id: uuid.UUID | str | None) -> TreatmentPlan | None:
    if plan_id in (None, ""):
        return None
    plans = TreatmentPlan.objects.for_organization(actor.organization_id).filter(patient=patient)
    try:
        found: TreatmentPlan = plans.one(plan_id, "plan")
    except NotFound as exc:  # another patient's plan is named as the field's error
        raise ValidationFailed.single("plan_id", "Choose one of this patient's plans.") from exc
    return found


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _clean_line(index: int, raw: Mapping[str, Any], prices: dict[str, PriceItem]) -> dict[str, Any]:
    where = f"lines[{index}]"
    quantity = raw.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100:
        raise ValidationFailed.single(f"{where}.quantity", "Give a quantity from 1 to 100.")
    service_date = raw.get("service_date")
    if service_date is not None and not isinstance(service_date, date):
        raise ValidationFailed.single(f"{where}.service_date", "Give the date of service.")
    code = str(raw.get("price_code") or "")
    if code:
        price = prices.get(code)
        if price is None:
            raise ValidationFailed.single(f"{where}.price_code", "Choose an active item from the price list.")
        return {
            "description": price.label,
            "quantity": quantity,
            "unit_cents": price.amount_cents,
            "price_code": price.code,
            "billing_codes": list(price.billing_codes),
            "service_date": service_date,
        }
    description = str(raw.get("description") or "").strip()
    if not description or len(description) > 200:
        raise ValidationFailed.single(f"{where}.description", "Describe the line (up to 200 characters).")
    unit = check_cents(raw.get("unit_cents"), f"{where}.amount")
    codes = clean_codes(raw.get("billing_codes") or [], f"{where}.billing_codes")
    return {
        "description": description,
        "quantity": quantity,
        "unit_cents": unit,
        "price_code": "",
        "billing_codes": codes,
        "service_date": service_date,
    }


def _create(
    actor: Actor, patient: Patient, plan: TreatmentPlan | None, lines: list[dict[str, Any]], event: str
) -> Invoice:
    """Inside the caller's transaction: number, rows, total, audit."""
    if patient.is_archived:
        raise ValidationFailed.single(None, "This patient is archived; restore the record first.")
    invoice = Invoice.objects.create(
        organization_id=actor.organization_id,
        patient=patient,
        plan=plan,
        number=next_number(actor.organization_id),
        diagnosis_codes=diagnosis_codes(patient, plan),
        recorded_by_id=actor.user_id,
    )
    rows = [
        InvoiceLine(
            organization_id=actor.organization_id,
            invoice=invoice,
            amount_cents=line["quantity"] * line["unit_cents"],
            **line,
        )
        for line in lines
    ]
    InvoiceLine.objects.bulk_create(rows)
    total = sum(row.amount_cents for row in rows)
    invoice.total_cents = total
    invoice.save(update_fields=["total_cents"])
    record(
        actor,
        Action.CREATE,
        "Invoice",
        invoice.pk,
        patient_id=patient.pk,
        detail={
            "event": event,
            "number": invoice.number,
            "lines": len(lines),
            "total_cents": total,
            "plan_id": str(plan.pk) if plan else None,
        },
    )
    return invoice


def _prices_by_code(organization_id: uuid.UUID) -> dict[str, PriceItem]:
    return {p.code: p for p in active_prices(organization_id)}


def create_invoice(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    lines: Sequence[Mapping[str, Any]],
    plan_id: uuid.UUID | str | None = None,
) -> Invoice:
    """A draft invoice with `lines`: each {"price_code", "quantity", "service_date"} from the price
    list, or {"description", "unit_cents", "quantity", "billing_codes", "service_date"}. Raises
    ValidationFailed (fields named `lines[i].<field>`), NotFound or Forbidden."""
    actor.require(Permission.EDIT_SCHEDULE)
    if not lines:
        raise ValidationFailed.single("lines", "Add at least one line.")
    if len(lines) > MAX_LINES:
        raise ValidationFailed.single("lines", f"An invoice holds up to {MAX_LINES} lines.")
    prices = _prices_by_code(actor.organization_id)
    clean = [_clean_line(i, raw, prices) for i, raw in enumerate(lines)]
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        plan = _plan_of(actor, patient, plan_id)
        return _create(actor, patient, plan, clean, "created")


def invoiced_appointment_ids(organization_id: uuid.UUID, patient: Patient) -> set[uuid.UUID]:
    rows = (
        InvoiceLine.objects.for_organization(organization_id)
        .filter(invoice__patient=patient, appointment__isnull=False)
        .exclude(invoice__status=Invoice.Status.VOID)
    )
    return {pk for pk in rows.values_list("appointment_id", flat=True) if pk is not None}


def billable_appointments(actor: Actor, patient: Patient) -> list[Appointment]:
    """The patient's booked, arrived or completed appointments not yet on an invoice."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    done = invoiced_appointment_ids(actor.organization_id, patient)
    rows = (
        Appointment.objects.for_organization(actor.organization_id)
        .filter(patient=patient, status__in=INVOICEABLE)
        .exclude(pk__in=done)
        .select_related("appointment_type", "clinic", "plan")
        .order_by("starts_at")
    )
    return list(rows)


def _appointment_line(appointment: Appointment, prices: dict[str, PriceItem]) -> dict[str, Any] | None:
    type_key = appointment.appointment_type.key
    price = next(
        (p for p in prices.values() if p.appointment_type_key == type_key and p.kind in SELLABLE), None
    )
    if price is None:
        return None
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    dose = appointment.plan.dose_mg if appointment.plan is not None else None
    local = timezone.localtime(appointment.starts_at, ZoneInfo(appointment.clinic.timezone))
    return {
        "description": price.label,
        "quantity": 1,
        "unit_cents": price.amount_cents,
        "price_code": price.code,
        "billing_codes": codes_for_visit(
            list(price.billing_codes), type_key=type_key, minutes=minutes, dose_mg=dose
        ),
        "service_date": local.date(),
        "appointment": appointment,
    }


def invoice_appointments(
    actor: Actor, patient_id: uuid.UUID | str, appointment_ids: Sequence[uuid.UUID | str]
) -> Invoice:
    """A draft invoice with one line per appointment (price by appointment type, codes adjusted for
    the visit: G2082/G2083 by the plan's dose, 96366 per added hour). Raises ValidationFailed on
    `appointment_ids` (none chosen, not the patient's, cancelled, already invoiced, no price)."""
    actor.require(Permission.EDIT_SCHEDULE)
    wanted = {str(pk) for pk in appointment_ids}
    if not wanted:
        raise ValidationFailed.single("appointment_ids", "Choose at least one appointment.")
    if not all(_is_uuid(pk) for pk in wanted):
        raise ValidationFailed.single("appointment_ids", "Choose this patient's appointments.")
    prices = _prices_by_code(actor.organization_id)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        found = (
            Appointment.objects.for_organization(actor.organization_id)
            .filter(patient=patient, pk__in=wanted)
            .select_related("appointment_type", "clinic", "plan")
            .order_by("starts_at")
        )
        rows = list(found)
        if len(rows) != len(wanted):
            raise ValidationFailed.single("appointment_ids", "Choose this patient's appointments.")
        errors: list[FieldError] = []
        done = invoiced_appointment_ids(actor.organization_id, patient)
        lines = []
        for appointment in rows:
            local = timezone.localtime(appointment.starts_at, ZoneInfo(appointment.clinic.timezone))
            when = f"{appointment.appointment_type.name} on {local:%Y-%m-%d}"
            if appointment.status not in INVOICEABLE:
                errors.append(
                    FieldError("appointment_ids", f"{when} was {appointment.get_status_display().lower()}.")
                )
            elif appointment.pk in done:
                errors.append(FieldError("appointment_ids", f"{when} is already on an invoice."))
            else:
                line = _appointment_line(appointment, prices)
                if line is None:
                    errors.append(
                        FieldError(
                            "appointment_ids",
                            (
                                f"{when}: the price list has no active price for "
                                f"'{appointment.appointment_type.key}'."
                            ),
                        )
                    )
                else:
                    lines.append(line)
        if errors:
            raise ValidationFailed(errors)
        plans = {a.plan_id for a in rows if a.plan_id}
        plan = rows[0].plan if len(plans) == 1 else None
        return _create(actor, patient, plan, lines, "from appointments")


def open_invoice(actor: Actor, invoice_id: uuid.UUID | str, *, purpose: str = "view") -> Invoice:
    """One invoice of this organization (NotFound otherwise); the read is audited."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    with transaction.atomic():
        invoice: Invoice = (
            invoices_of(actor.organization_id)
            .select_related("patient__home_clinic", "plan")
            .one(invoice_id, "invoice")
        )
        record(
            actor,
            Action.READ,
            "Invoice",
            invoice.pk,
            patient_id=invoice.patient_id,
            detail={"purpose": purpose},
        )
    return invoice


def _locked(actor: Actor, invoice_id: uuid.UUID | str) -> Invoice:
    return invoices_of(actor.organization_id).select_for_update().one(invoice_id, "invoice")


def issue_invoice(actor: Actor, invoice_id: uuid.UUID | str, *, today: date | None = None) -> Invoice:
    """Issue a draft: dated today, due after the payment terms. Raises ValidationFailed unless draft."""
    actor.require(Permission.EDIT_SCHEDULE)
    with transaction.atomic():
        invoice = _locked(actor, invoice_id)
        if invoice.status != Invoice.Status.DRAFT:
            raise ValidationFailed.single(
                None, f"Only a draft can be issued; this invoice is {invoice.status}."
            )
        if not invoice.lines.exists():
            raise ValidationFailed.single(None, "Add a line before issuing the invoice.")
        issued = today or timezone.localdate()
        invoice.status = (
            Invoice.Status.PAID if invoice.total_cents == invoice.paid_cents else Invoice.Status.ISSUED
        )
        invoice.issued_on = issued
        invoice.due_on = issued + timedelta(days=settings_for(actor.organization_id).payment_terms_days)
        invoice.save(update_fields=["status", "issued_on", "due_on"])
        record(
            actor,
            Action.UPDATE,
            "Invoice",
            invoice.pk,
            patient_id=invoice.patient_id,
            detail={"event": "issued", "number": invoice.number, "total_cents": invoice.total_cents},
        )
    return invoice


def void_invoice(actor: Actor, invoice_id: uuid.UUID | str, *, reason: str) -> Invoice:
    """Void an invoice (it keeps its number). A reason is required; an invoice holding payments is
    refused until they are refunded, so no money is left on a void invoice."""
    actor.require(Permission.EDIT_SCHEDULE)
    reason = (reason or "").strip()
    with transaction.atomic():
        invoice = _locked(actor, invoice_id)
        if not reason:
            raise ValidationFailed.single("reason", "Say why the invoice is void.")
        if len(reason) > MAX_REASON:
            raise ValidationFailed.single("reason", f"Keep the reason to {MAX_REASON} characters.")
        if invoice.status == Invoice.Status.VOID:
            raise ValidationFailed.single(None, "This invoice is already void.")
        if invoice.paid_cents:
            raise ValidationFailed.single(
                None, "Payments are recorded on this invoice: refund them before voiding."
            )
        invoice.status = Invoice.Status.VOID
        invoice.void_reason = reason
        invoice.save(update_fields=["status", "void_reason"])
        record(
            actor,
            Action.UPDATE,
            "Invoice",
            invoice.pk,
            patient_id=invoice.patient_id,
            detail={"event": "voided", "number": invoice.number, "reason_given": True},
        )
    return invoice


def patient_invoices(actor: Actor, patient: Patient) -> list[Invoice]:
    """Every invoice of a patient already opened (and audited) by the caller, newest first."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    return list(invoices_of(actor.organization_id).filter(patient=patient).order_by("-recorded_at"))

"""The price list and the billing settings: reading (any staff who see patients) and editing
(MANAGE_CLINICS: owners and administrators set prices, not the front desk).

Every change is one transaction with its audit entry naming the fields changed and their old and new
values (prices are not patient data).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import TenantQuerySet
from ketaflow.validation import FieldError, ValidationFailed

from .amounts import check_cents
from .defaults import ensure_price_list, settings_for
from .models import BillingSettings, PriceItem

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_CODE = re.compile(r"^[A-Z0-9]{4,7}$")
CODE_SYSTEMS = ("CPT", "HCPCS")
SELLABLE = (PriceItem.Kind.CONSULTATION, PriceItem.Kind.SESSION, PriceItem.Kind.ADD_ON, PriceItem.Kind.OTHER)


def prices_of(organization_id: uuid.UUID) -> TenantQuerySet:
    return PriceItem.objects.for_organization(organization_id)


def active_prices(organization_id: uuid.UUID) -> list[PriceItem]:
    """Every price on the organization's list now (the defaults are created on first use); no
    permission check, for the services that price a visit or a plan."""
    ensure_price_list(organization_id)
    return list(prices_of(organization_id).filter(is_active=True))


def price_list(actor: Actor, *, include_inactive: bool = False) -> list[PriceItem]:
    """The organization's prices (the defaults are created on first use)."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    ensure_price_list(actor.organization_id)
    rows = prices_of(actor.organization_id)
    if not include_inactive:
        rows = rows.filter(is_active=True)
    return list(rows.order_by("kind", "label"))


def billing_settings(actor: Actor) -> BillingSettings:
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    return settings_for(actor.organization_id)


def clean_codes(raw: Any, field: str = "billing_codes") -> list[dict[str, Any]]:
    """[{"system": "CPT"|"HCPCS", "code": "96365"}, ...]; raises ValidationFailed on `field`."""
    if not isinstance(raw, list):
        raise ValidationFailed.single(field, "Give a list of codes.")
    codes = []
    for item in raw:
        system = str((item or {}).get("system", "")).upper() if isinstance(item, dict) else ""
        code = str((item or {}).get("code", "")).strip().upper() if isinstance(item, dict) else ""
        if system not in CODE_SYSTEMS or not _CODE.match(code):
            raise ValidationFailed.single(
                field, "Each code needs a system (CPT or HCPCS) and a code like 96365."
            )
        codes.append({"system": system, "code": code})
    return codes


def parse_codes_text(text: str, field: str = "billing_codes") -> list[dict[str, Any]]:
    """ "CPT 96365, HCPCS G2082" (as typed on the page) -> the code list."""
    items = []
    for part in filter(None, (p.strip() for p in (text or "").replace(";", ",").split(","))):
        pieces = part.split()
        if len(pieces) != 2:
            raise ValidationFailed.single(field, "Write each code as its system and code, e.g. 'CPT 96365'.")
        items.append({"system": pieces[0], "code": pieces[1]})
    return clean_codes(items, field)


def _clean_price(actor: Actor, data: Mapping[str, Any], existing: PriceItem | None) -> dict[str, Any]:
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    code = str(data.get("code") or (existing.code if existing else "")).strip().lower()
    if not _SLUG.match(code):
        errors.append(FieldError("code", "Use lower-case letters, digits and dashes (e.g. iv-session)."))
    elif (
        prices_of(actor.organization_id).filter(code=code).exclude(pk=getattr(existing, "pk", None)).exists()
    ):
        errors.append(FieldError("code", "Another price already uses this code."))
    clean["code"] = code
    label = str(data.get("label") or "").strip()
    if not label or len(label) > 120:
        errors.append(FieldError("label", "Give the name patients see (up to 120 characters)."))
    clean["label"] = label
    kind = str(data.get("kind") or "")
    if kind not in PriceItem.Kind.values:
        errors.append(FieldError("kind", "Choose what kind of price this is."))
    clean["kind"] = kind
    try:
        clean["amount_cents"] = check_cents(data.get("amount_cents"), "amount", allow_zero=True)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    sessions = data.get("sessions", 1) or 1
    covers = str(data.get("covers") or "").strip()
    if kind == PriceItem.Kind.PACKAGE:
        if isinstance(sessions, bool) or not isinstance(sessions, int) or not 2 <= sessions <= 100:
            errors.append(FieldError("sessions", "A package covers 2 to 100 sessions."))
        target = prices_of(actor.organization_id).filter(code=covers, kind=PriceItem.Kind.SESSION).first()
        if target is None:
            errors.append(FieldError("covers", "Give the code of the single session this package covers."))
    else:
        sessions, covers = 1, ""
    clean["sessions"], clean["covers"] = sessions, covers
    type_key = str(data.get("appointment_type_key") or "").strip()
    if type_key and not re.match(r"^[a-z0-9_-]{1,30}$", type_key):
        errors.append(FieldError("appointment_type_key", "Use the appointment type's key, e.g. iv."))
    clean["appointment_type_key"] = type_key
    try:
        clean["billing_codes"] = clean_codes(data.get("billing_codes") or [])
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return clean


def save_price(
    actor: Actor, data: Mapping[str, Any], *, price_id: uuid.UUID | str | None = None
) -> PriceItem:
    """Create a price, or change the one named; invoices already made keep their copied amounts.
    Raises ValidationFailed (each bad field), NotFound or Forbidden."""
    actor.require(Permission.MANAGE_CLINICS)
    with transaction.atomic():
        existing = None
        if price_id is not None:
            existing = prices_of(actor.organization_id).select_for_update().one(price_id, "price")
        clean = _clean_price(actor, data, existing)
        if existing is None:
            price = PriceItem.objects.create(organization_id=actor.organization_id, **clean)
            record(
                actor,
                Action.CREATE,
                "PriceItem",
                price.pk,
                detail={"code": price.code, "amount_cents": price.amount_cents},
            )
            return price
        changes = [
            {"field": k, "old": getattr(existing, k), "new": v}
            for k, v in clean.items()
            if getattr(existing, k) != v
        ]
        if changes:
            for name, value in clean.items():
                setattr(existing, name, value)
            existing.is_active = True
            existing.save()
            record(actor, Action.UPDATE, "PriceItem", existing.pk, detail={"changes": changes})
        return existing


def deactivate_price(actor: Actor, price_id: uuid.UUID | str) -> PriceItem:
    """Take a price off the list (new estimates and invoices stop using it; old ones keep it)."""
    actor.require(Permission.MANAGE_CLINICS)
    with transaction.atomic():
        price: PriceItem = prices_of(actor.organization_id).select_for_update().one(price_id, "price")
        if not price.is_active:
            raise ValidationFailed.single(None, "This price is already off the list.")
        price.is_active = False
        price.save(update_fields=["is_active"])
        record(
            actor, Action.UPDATE, "PriceItem", price.pk, detail={"event": "deactivated", "code": price.code}
        )
    return price


SETTING_FIELDS = (
    "currency",
    "invoice_prefix",
    "payment_terms_days",
    "deposit_cents",
    "tax_id",
    "billing_npi",
    "superbill_note",
)


def _clean_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    if "currency" in data:
        clean["currency"] = str(data["currency"] or "").strip().upper()
        if not re.match(r"^[A-Z]{3}$", clean["currency"]):
            errors.append(FieldError("currency", "Use a three-letter currency code, e.g. USD."))
    if "invoice_prefix" in data:
        clean["invoice_prefix"] = str(data["invoice_prefix"] or "").strip()
        if not re.match(r"^[A-Za-z0-9-]{0,10}$", clean["invoice_prefix"]):
            errors.append(FieldError("invoice_prefix", "Up to 10 letters, digits or dashes, e.g. INV-."))
    if "payment_terms_days" in data:
        days = data["payment_terms_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365:
            errors.append(FieldError("payment_terms_days", "Give a whole number of days from 0 to 365."))
        clean["payment_terms_days"] = days
    if "deposit_cents" in data:
        try:
            clean["deposit_cents"] = check_cents(data["deposit_cents"], "deposit", allow_zero=True)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if "tax_id" in data:
        clean["tax_id"] = str(data["tax_id"] or "").strip()
        if clean["tax_id"] and not re.match(r"^\d{2}-?\d{7}$", clean["tax_id"]):
            errors.append(FieldError("tax_id", "An EIN is 9 digits, written 12-3456789."))
    if "billing_npi" in data:
        clean["billing_npi"] = str(data["billing_npi"] or "").strip()
        if clean["billing_npi"] and not re.match(r"^\d{10}$", clean["billing_npi"]):
            errors.append(FieldError("billing_npi", "An NPI is 10 digits."))
    if "superbill_note" in data:
        clean["superbill_note"] = str(data["superbill_note"] or "").strip()[:2000]
    if errors:
        raise ValidationFailed(errors)
    return clean


def update_billing_settings(actor: Actor, data: Mapping[str, Any]) -> BillingSettings:
    """Change the settings given in `data`; the audit entry lists each change (old and new)."""
    actor.require(Permission.MANAGE_CLINICS)
    clean = _clean_settings(data)
    with transaction.atomic():
        settings_for(actor.organization_id)
        config = BillingSettings.objects.select_for_update().get(organization_id=actor.organization_id)
        changes = [
            {"field": k, "old": getattr(config, k), "new": v}
            for k, v in clean.items()
            if getattr(config, k) != v
        ]
        if changes:
            for name, value in clean.items():
                setattr(config, name, value)
            config.save()
            record(actor, Action.UPDATE, "BillingSettings", config.pk, detail={"changes": changes})
    return config

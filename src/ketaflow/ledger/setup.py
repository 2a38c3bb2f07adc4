"""Setting up the ledger: the products a practice stocks, its storage locations, its settings.

Three products are offered by default (a 500 mg/10 mL ketamine vial, a 28 mg esketamine nasal device,
a 5 mg/1 mL midazolam vial); a clinic adds its own. A product's strength is what a drawn volume or a
counted unit is turned into mg with, so products and settings are changed by a prescriber (the
registrant's side: HANDLE_CONTROLLED and SIGN_DOSES); locations by anyone who handles the stock.
Every change is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.validation import FieldError, ValidationFailed

from .models import Balance, LedgerSettings, Product, StorageLocation

SCHEDULES = ("II", "III", "IV", "V")


@dataclass(frozen=True)
class DefaultProduct:
    name: str
    drug: str
    schedule: str
    form: str
    mg_per_unit: Decimal
    ml_per_unit: Decimal | None


DEFAULTS_SOURCE = (
    "The default products, to check against the labels of what you stock: ketamine is Schedule III "
    "(clinical reference §9), esketamine with it as its isomer [verify]; one esketamine nasal device holds "
    "28 mg (US prescribing information, reference §2); midazolam is Schedule IV [verify]."
)
DEFAULT_PRODUCTS = (
    DefaultProduct("Ketamine 500 mg/10 mL vial", "ketamine", "III", "vial", Decimal(500), Decimal(10)),
    DefaultProduct("Esketamine 28 mg nasal device", "esketamine", "III", "device", Decimal(28), None),
    DefaultProduct("Midazolam 5 mg/1 mL vial", "midazolam", "IV", "vial", Decimal(5), Decimal(1)),
)


def _organization_id(org: Organization | uuid.UUID) -> uuid.UUID:
    return org.pk if isinstance(org, Organization) else org


def ensure_products(org: Organization | uuid.UUID) -> list[Product]:
    """Create the default products the organization does not have yet (by name; a product the
    clinic took off its list is not brought back). Returns the organization's products."""
    organization_id = _organization_id(org)
    have = set(Product.objects.for_organization(organization_id).values_list("name", flat=True))
    Product.objects.bulk_create(
        Product(
            organization_id=organization_id,
            name=item.name,
            drug=item.drug,
            schedule=item.schedule,
            form=item.form,
            mg_per_unit=item.mg_per_unit,
            ml_per_unit=item.ml_per_unit,
        )
        for item in DEFAULT_PRODUCTS
        if item.name not in have
    )
    return list(Product.objects.for_organization(organization_id))


def ledger_settings(organization_id: uuid.UUID) -> LedgerSettings:
    """The practice's settings; until a prescriber saves them, an unsaved row with the model's
    defaults, so reading them never writes."""
    found = LedgerSettings.objects.filter(organization_id=organization_id).first()
    return found or LedgerSettings(organization_id=organization_id)


def products(organization_id: uuid.UUID, *, active_only: bool = True) -> list[Product]:
    rows = Product.objects.for_organization(organization_id)
    return list(rows.filter(is_active=True) if active_only else rows)


def locations(organization_id: uuid.UUID, *, active_only: bool = True) -> list[StorageLocation]:
    rows = StorageLocation.objects.for_organization(organization_id).select_related("clinic")
    return list((rows.filter(is_active=True) if active_only else rows).order_by("clinic__name", "name"))


def _decimal(value: Any, field: str, errors: list[FieldError], *, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        number = Decimal("NaN")
    if not number.is_finite() or not low <= number <= high or number != number.quantize(Decimal("0.001")):
        errors.append(FieldError(field, f"Enter a number from {low} to {high} (at most 3 decimal places)."))
        return Decimal(0)
    return number


def update_settings(
    actor: Actor,
    *,
    registrant: str,
    registration_number: str,
    expiry_warn_days: Any,
    session_tolerance_mg: Any,
) -> LedgerSettings:
    """The registrant printed on reports, how early expiry is flagged, and how many mg a session's
    drawn dose may differ from given + wasted before it is flagged."""
    actor.require(Permission.HANDLE_CONTROLLED)
    actor.require(Permission.SIGN_DOSES)
    errors: list[FieldError] = []
    try:
        warn_days = int(str(expiry_warn_days).strip())
    except ValueError:
        warn_days = -1
    if not 0 <= warn_days <= 730:
        errors.append(FieldError("expiry_warn_days", "Enter a number of days from 0 to 730."))
    tolerance = _decimal(
        session_tolerance_mg, "session_tolerance_mg", errors, low=Decimal(0), high=Decimal(50)
    )
    if len((registrant or "").strip()) > 200:
        errors.append(FieldError("registrant", "At most 200 characters."))
    if len((registration_number or "").strip()) > 40:
        errors.append(FieldError("registration_number", "At most 40 characters."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        config, _ = LedgerSettings.objects.select_for_update().get_or_create(
            organization_id=actor.organization_id
        )
        before = _settings_values(config)
        config.registrant = (registrant or "").strip()
        config.registration_number = (registration_number or "").strip()
        config.expiry_warn_days = warn_days
        config.session_tolerance_mg = tolerance
        config.save()
        after = _settings_values(config)
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        record(actor, Action.UPDATE, "LedgerSettings", config.pk, detail={"changed": changed})
    return config


def _settings_values(config: LedgerSettings) -> dict[str, str]:
    return {
        "registrant": config.registrant,
        "registration_number": config.registration_number,
        "expiry_warn_days": str(config.expiry_warn_days),
        "session_tolerance_mg": f"{Decimal(config.session_tolerance_mg):f}",
    }


def add_product(
    actor: Actor,
    *,
    name: str,
    drug: str,
    schedule: str,
    form: str,
    mg_per_unit: Any,
    ml_per_unit: Any = None,
) -> Product:
    """A product the clinic stocks, with its strength (mg per unit, and mL per unit for a solution).
    A product's strength is never changed later: add a new product instead."""
    actor.require(Permission.HANDLE_CONTROLLED)
    actor.require(Permission.SIGN_DOSES)
    errors: list[FieldError] = []
    name, form = (name or "").strip(), (form or "").strip().lower()
    if not name or len(name) > 200:
        errors.append(FieldError("name", "Name the product (at most 200 characters)."))
    elif Product.objects.for_organization(actor.organization_id).filter(name__iexact=name).exists():
        errors.append(FieldError("name", "There is already a product with this name."))
    if drug not in Product.Drug.values:
        errors.append(FieldError("drug", "Choose the drug."))
    if schedule not in SCHEDULES:
        errors.append(FieldError("schedule", "Choose the schedule (II to V)."))
    if not form or len(form) > 20:
        errors.append(FieldError("form", "Say what a unit is: vial, device, ampoule, troche."))
    strength = _decimal(mg_per_unit, "mg_per_unit", errors, low=Decimal("0.001"), high=Decimal(99999))
    volume = None
    if ml_per_unit not in (None, ""):
        volume = _decimal(ml_per_unit, "ml_per_unit", errors, low=Decimal("0.01"), high=Decimal(9999))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        product = Product.objects.create(
            organization_id=actor.organization_id,
            name=name,
            drug=drug,
            schedule=schedule,
            form=form,
            mg_per_unit=strength,
            ml_per_unit=volume,
        )
        record(
            actor,
            Action.CREATE,
            "Product",
            product.pk,
            detail={"name": name, "drug": drug, "mg_per_unit": f"{strength:f}"},
        )
    return product


def set_product_active(actor: Actor, product_id: Any, *, active: bool) -> Product:
    """Put a product back on, or take it off, the list of what can be received."""
    actor.require(Permission.HANDLE_CONTROLLED)
    actor.require(Permission.SIGN_DOSES)
    with transaction.atomic():
        product: Product = (
            Product.objects.for_organization(actor.organization_id)
            .select_for_update()
            .one(product_id, "product")
        )
        product.is_active = active
        product.save(update_fields=["is_active"])
        record(actor, Action.UPDATE, "Product", product.pk, detail={"is_active": active})
    return product


def add_location(actor: Actor, *, clinic_id: Any, name: str) -> StorageLocation:
    """A named place in one clinic where stock is kept (a safe, a locked cabinet)."""
    actor.require(Permission.HANDLE_CONTROLLED)
    name = (name or "").strip()
    errors: list[FieldError] = []
    clinic = Clinic.objects.for_organization(actor.organization_id).filter(pk=_uuid(clinic_id)).first()
    if clinic is None:
        errors.append(FieldError("clinic_id", "Choose one of your clinics."))
    if not name or len(name) > 120:
        errors.append(FieldError("name", "Name the location (at most 120 characters)."))
    elif clinic and StorageLocation.objects.filter(clinic=clinic, name__iexact=name).exists():
        errors.append(FieldError("name", f"{clinic.name} already has a location with this name."))
    if errors or clinic is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        location = StorageLocation.objects.create(
            organization_id=actor.organization_id, clinic=clinic, name=name
        )
        record(actor, Action.CREATE, "StorageLocation", location.pk, detail={"name": name})
    return location


def set_location_active(actor: Actor, location_id: Any, *, active: bool) -> StorageLocation:
    """Stop (or resume) using a location; refused while it still holds stock."""
    actor.require(Permission.HANDLE_CONTROLLED)
    with transaction.atomic():
        location: StorageLocation = (
            StorageLocation.objects.for_organization(actor.organization_id)
            .select_for_update()
            .one(location_id, "storage location")
        )
        if not active and Balance.objects.filter(location=location, quantity_mg__gt=0).exists():
            raise ValidationFailed.single(
                "location_id", f"{location.name} still holds stock: move or waste it first."
            )
        location.is_active = active
        location.save(update_fields=["is_active"])
        record(actor, Action.UPDATE, "StorageLocation", location.pk, detail={"is_active": active})
    return location


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None

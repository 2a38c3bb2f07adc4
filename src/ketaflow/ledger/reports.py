"""Inventory reports of one storage location: periodic (any period, a month by default) and biennial
(stock on hand at the close of a date, with the two years of movements before it).

Per product and lot: opening balance, receipts, administrations, waste, transfers in and out,
adjustments, closing balance, summed by when each movement happened (`occurred_at`) in the clinic's
time zone; the closing balance is opening + in - out. Exported as CSV or PDF (WeasyPrint, as
the consent and superbill PDFs); each export is an audited EXPORT. The regulation a biennial
inventory answers (US: 21 CFR 1304.11) is marked [verify] in clinical reference §9.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.controlled import EntryKind
from ketaflow.clinics.models import Organization
from ketaflow.validation import FieldError, ValidationFailed

from .models import Count, Entry, Lot, StorageLocation
from .setup import ledger_settings
from .stock import location_of

KINDS = {"periodic": "Periodic inventory", "biennial": "Biennial inventory"}
FORMATS = ("csv", "pdf")
COLUMNS = (
    ("opening", "Opening"),
    ("receipts", "Receipts"),
    ("administrations", "Administered"),
    ("waste", "Wasted"),
    ("transfers_in", "Transferred in"),
    ("transfers_out", "Transferred out"),
    ("adjustments", "Adjustments"),
    ("closing", "Closing"),
)
BY_KIND = {
    EntryKind.RECEIPT: "receipts",
    EntryKind.ADMINISTRATION: "administrations",
    EntryKind.WASTE: "waste",
    EntryKind.TRANSFER_IN: "transfers_in",
    EntryKind.TRANSFER_OUT: "transfers_out",
    EntryKind.ADJUSTMENT: "adjustments",
}
ZERO = Decimal(0)


def mg_text(value: Decimal) -> str:
    """500.000 -> '500', 12.500 -> '12.5', 0 -> '0'."""
    text = f"{Decimal(value).quantize(Decimal('0.001')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass
class ReportRow:
    lot: Lot
    opening: Decimal = ZERO
    receipts: Decimal = ZERO
    administrations: Decimal = ZERO  # shown as positive amounts out
    waste: Decimal = ZERO
    transfers_in: Decimal = ZERO
    transfers_out: Decimal = ZERO
    adjustments: Decimal = ZERO  # signed

    @property
    def closing(self) -> Decimal:
        """opening + in - out: what the ledger held at the end of the period."""
        return (
            self.opening
            + self.receipts
            + self.transfers_in
            + self.adjustments
            - self.administrations
            - self.waste
            - self.transfers_out
        )

    @property
    def closing_units(self) -> Decimal | None:
        per_unit = self.lot.product.mg_per_unit
        return (self.closing / per_unit).quantize(Decimal("0.01")) if per_unit else None

    def figures(self) -> list[tuple[str, Decimal]]:
        return [(label, getattr(self, name)) for name, label in COLUMNS]


@dataclass
class InventoryReport:
    kind: str
    location: StorageLocation
    start: date
    end: date
    registrant: str
    registration_number: str
    timezone_name: str
    rows: list[ReportRow]
    counts: list[Count] = field(default_factory=list)
    organization_name: str = ""

    @property
    def title(self) -> str:
        return KINDS[self.kind]

    @property
    def period_text(self) -> str:
        if self.kind == "biennial":
            return f"on hand at the close of {self.end:%Y-%m-%d}; movements from {self.start:%Y-%m-%d}"
        return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"

    def totals(self) -> list[tuple[str, str, list[tuple[str, Decimal]]]]:
        """Per product: (name, schedule, [(column label, sum)])."""
        by_product: dict[uuid.UUID, list[ReportRow]] = defaultdict(list)
        for row in self.rows:
            by_product[row.lot.product_id].append(row)
        return [
            (
                rows[0].lot.product.name,
                rows[0].lot.product.schedule,
                [(label, sum((getattr(r, name) for r in rows), ZERO)) for name, label in COLUMNS],
            )
            for rows in by_product.values()
        ]


def period_for(kind: str, start: date | None, end: date) -> tuple[date, date]:
    """The period a report covers: a biennial one the two years up to `end`; a periodic one from
    `start` (default the first of `end`'s month)."""
    if kind == "biennial":
        try:
            two_years_back = end.replace(year=end.year - 2)
        except ValueError:  # 29 February
            two_years_back = date(end.year - 2, 2, 28)
        return two_years_back + timedelta(days=1), end
    return start or end.replace(day=1), end


def inventory_report(
    actor: Actor, *, kind: str, location_id: Any, end: date, start: date | None = None
) -> InventoryReport:
    """The report's figures. ValidationFailed names kind, start or end (end after today, start after
    end, more than 3 years); NotFound for another organization's location."""
    actor.require(Permission.HANDLE_CONTROLLED)
    errors: list[FieldError] = []
    if kind not in KINDS:
        errors.append(FieldError("kind", "Choose a periodic or a biennial report."))
    if not isinstance(end, date):
        errors.append(FieldError("end", "Enter the last day of the report."))
    if errors:
        raise ValidationFailed(errors)
    location = location_of(actor, location_id)
    zone = ZoneInfo(location.clinic.timezone)
    today = timezone.now().astimezone(zone).date()
    first, last = period_for(kind, start, end)
    if last > today:
        errors.append(FieldError("end", "The report cannot end after today."))
    if first > last:
        errors.append(FieldError("start", "The start must be on or before the end."))
    elif (last - first).days > 3 * 366:
        errors.append(FieldError("start", "A report covers at most three years."))
    if errors:
        raise ValidationFailed(errors)
    settings = ledger_settings(actor.organization_id)
    organization = Organization.objects.only("name").get(pk=actor.organization_id)
    return InventoryReport(
        kind=kind,
        location=location,
        start=first,
        end=last,
        registrant=settings.registrant,
        registration_number=settings.registration_number,
        timezone_name=location.clinic.timezone,
        rows=_rows(location, _midnight(first, zone), _midnight(last + timedelta(days=1), zone)),
        counts=list(
            Count.objects.for_organization(actor.organization_id)
            .filter(
                location=location,
                counted_at__gte=_midnight(first, zone),
                counted_at__lt=_midnight(last + timedelta(days=1), zone),
            )
            .order_by("counted_at")
        ),
        organization_name=organization.name,
    )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _rows(location: StorageLocation, start_at: datetime, end_at: datetime) -> list[ReportRow]:
    """Three queries: sums before the period, sums per kind in it, and the lots."""
    entries = Entry.objects.for_organization(location.organization_id).filter(location=location)
    opening = dict(
        entries.filter(occurred_at__lt=start_at)
        .values("lot_id")
        .annotate(total=Sum("change_mg"))
        .order_by()
        .values_list("lot_id", "total")
    )
    moved = (
        entries.filter(occurred_at__gte=start_at, occurred_at__lt=end_at)
        .values("lot_id", "kind")
        .annotate(total=Sum("change_mg"))
        .order_by()
        .values_list("lot_id", "kind", "total")
    )
    rows: dict[uuid.UUID, dict[str, Decimal]] = defaultdict(dict)
    for lot_id, total in opening.items():
        rows[lot_id]["opening"] = total
    for lot_id, kind, total in moved:
        name = BY_KIND[EntryKind(kind)]
        rows[lot_id][name] = rows[lot_id].get(name, ZERO) + (total if name == "adjustments" else abs(total))
    lots = (
        Lot.objects.for_organization(location.organization_id)
        .filter(pk__in=rows)
        .select_related("product")
        .order_by("product__name", "expires_on")
    )
    found = []
    for lot in lots:
        figures = rows[lot.pk]
        if not any(figures.values()):
            continue  # nothing on hand and nothing moved in the period
        found.append(ReportRow(lot, **figures))
    return found


def _person(actor: Actor) -> str:
    user = User.objects.filter(pk=actor.user_id).first() if actor.user_id else None
    return (user.get_full_name() or user.username) if user else actor.username


@dataclass(frozen=True)
class ReportFile:
    filename: str
    content_type: str
    content: bytes


def filename_for(report: InventoryReport, fmt: str) -> str:
    place = re.sub(r"[^A-Za-z0-9]+", "-", report.location.name).strip("-").lower() or "location"
    return f"ledger-{report.kind}-{place}-{report.start:%Y%m%d}-{report.end:%Y%m%d}.{fmt}"


def report_csv(report: InventoryReport) -> str:
    """One row per lot: product, drug, schedule, lot, expiry, then each figure in mg."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "product",
            "drug",
            "schedule",
            "lot",
            "expires_on",
            *(f"{name}_mg" for name, _label in COLUMNS),
            "closing_units",
        ]
    )
    for row in report.rows:
        product = row.lot.product
        writer.writerow(
            [
                product.name,
                product.drug,
                product.schedule,
                row.lot.lot_number,
                f"{row.lot.expires_on:%Y-%m-%d}",
                *(mg_text(value) for _label, value in row.figures()),
                "" if row.closing_units is None else mg_text(row.closing_units),
            ]
        )
    return out.getvalue()


def report_html(report: InventoryReport, *, prepared_by: str, now: datetime) -> str:
    with timezone.override(report.timezone_name):
        return render_to_string(
            "ledger/pdf/inventory.html",
            {
                "report": report,
                "columns": [label for _name, label in COLUMNS],
                "prepared_by": prepared_by,
                "now": now,
            },
        )


def export_report(actor: Actor, report: InventoryReport, fmt: str) -> ReportFile:
    """The report as a CSV or PDF file; an audited EXPORT. ValidationFailed('format') otherwise."""
    actor.require(Permission.HANDLE_CONTROLLED)
    if fmt not in FORMATS:
        raise ValidationFailed.single("format", "Choose CSV or PDF.")
    if fmt == "csv":
        content, content_type = report_csv(report).encode(), "text/csv; charset=utf-8"
    else:
        from ketaflow.measurement.pdf import render_pdf

        html = report_html(report, prepared_by=_person(actor), now=timezone.now())
        content, content_type = render_pdf(html), "application/pdf"
    with transaction.atomic():
        record(
            actor,
            Action.EXPORT,
            "LedgerReport",
            report.location.pk,
            detail={
                "kind": report.kind,
                "format": fmt,
                "start": report.start.isoformat(),
                "end": report.end.isoformat(),
                "lots": len(report.rows),
            },
        )
    return ReportFile(filename_for(report, fmt), content_type, content)

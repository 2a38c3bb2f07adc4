"""`ketaflow plans ...`: the protocol library and the dose calculator from the command line.

Shipped protocols need no database; `--organization SLUG` adds (and prefers) a clinic's own versions.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click


def _protocols(slug: str | None) -> list[Any]:
    from ketaflow.clinical.protocols import builtin_protocols

    if not slug:
        return list(builtin_protocols())
    from ketaflow.cli import _django

    _django()
    from ketaflow.clinics.models import Organization
    from ketaflow.plans.library import library

    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise click.ClickException(f"No organization {slug!r}.")
    return [entry.protocol for entry in library(organization.id)]


def _dose_text(protocol: Any) -> str:
    from ketaflow.plans.describe import dose_numbers

    numbers = {n.label: n.value for n in dose_numbers(protocol)}
    for label in ("Dose per kg", "Dose per kg per hour", "Allowed doses", "Starting dose"):
        if label in numbers:
            return f"{numbers[label]}, cap {numbers['Cap']}"
    return f"cap {numbers['Cap']}"


@click.group()
def plans() -> None:
    """Treatment plans: the protocol library and dose calculations."""


@plans.command("protocols")
@click.option("--organization", "slug", metavar="SLUG", help="Include this organization's own versions.")
def protocols_list(slug: str | None) -> None:
    """List the library: key, version, route, dose."""
    rows = [("key", "version", "route", "dose")]
    for protocol in _protocols(slug):
        rows.append((protocol.key, protocol.version, protocol.route.value, _dose_text(protocol)))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        click.echo(
            "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]])
        )


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise click.BadParameter(f"{value!r} is not a number", param_hint=name) from exc


@plans.command("dose")
@click.option("--protocol", "key", required=True, metavar="KEY", help="The protocol's key.")
@click.option("--weight", required=True, metavar="KG", help="Weight in kg.")
@click.option("--height", metavar="CM", help="Height in cm (ideal or adjusted body weight).")
@click.option("--sex", type=click.Choice(["female", "male"]), help="Sex at birth.")
@click.option("--age", type=int, metavar="N", help="Age in years.")
@click.option("--mg-per-kg", "mg_per_kg", metavar="X", help="One of the protocol's steps.")
@click.option("--mg", metavar="N", help="A fixed or troche dose in mg.")
@click.option("--organization", "slug", metavar="SLUG", help="Use this organization's library.")
def dose(
    key: str,
    weight: str,
    height: str | None,
    sex: str | None,
    age: int | None,
    mg_per_kg: str | None,
    mg: str | None,
    slug: str | None,
) -> None:
    """Print a protocol's dose and its arithmetic (exit 1 naming the bad value)."""
    from ketaflow.clinical.prescribing import PatientMeasures
    from ketaflow.clinical.protocols import find
    from ketaflow.plans.doses import calculate
    from ketaflow.validation import ValidationFailed

    protocol = find(_protocols(slug), key)
    if protocol is None:
        raise click.ClickException(f"No protocol {key!r}; see `ketaflow plans protocols`.")
    measures = PatientMeasures(_decimal(weight, "--weight"), _decimal(height, "--height"), sex or "", age)
    try:
        prescription = calculate(protocol, measures, mg_per_kg=mg_per_kg, mg=mg, first_dose=mg is None)
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{e.field}: {e.message}" for e in exc.errors)) from exc
    click.echo(f"{protocol.name} (v{protocol.version})")
    click.echo(f"Dose: {prescription.summary}")
    for line in prescription.arithmetic:
        click.echo(f"  {line}")

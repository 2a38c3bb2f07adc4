"""Type-level search over the stored projection: parameters in, a searchset Bundle (bytes) out.

`search_bundle` is the one entry point (the REST views and anything else that searches call it). It
checks the caller's read permission, turns the parameters into one organization-scoped query over
`StoredResource` (indexed columns and `ResourceToken` subqueries, never per-row Python filtering),
splices the stored JSON of the page into the Bundle, and audits one LIST event.

Unknown parameters follow R4 (http.html#search, "handling"): by default (lenient) they are ignored,
left out of the links and named in a warning OperationOutcome entry; with `Prefer: handling=strict`
they are a 400. Malformed values, unsupported prefixes and modifiers are always a 400.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, OrderBy, Q

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record

from . import access
from .bundles import Page, searchset
from .http import FORMAT_TYPES
from .index import SEARCH, TypeSearch
from .models import StoredResource
from .outcome import FhirError, Issue
from .search_params import (
    bad_parameter,
    date_filter,
    each_value,
    id_filter,
    last_updated_filter,
    patient_ids,
    string_filter,
    token_filter,
)

DEFAULT_COUNT = 20
MAX_COUNT = 500
# Parameters that shape the result rather than filter it.
RESULT_PARAMS = frozenset({"_count", "_offset", "_sort", "_summary", "_total", "_format"})


@dataclass
class Plan:
    """What a search asks for, checked: filters, order, page, and what goes in the links."""

    filters: list[Q] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)  # FHIR sort keys, "-" for descending
    count: int = DEFAULT_COUNT
    offset: int = 0
    with_total: bool = True
    kept: list[tuple[str, str]] = field(default_factory=list)  # accepted (name, value) pairs, in order
    ignored: list[str] = field(default_factory=list)  # unknown parameter names (lenient handling)
    patients: list[str] = field(default_factory=list)  # Patient ids searched for


def parameter_kind(resource_type: str, name: str) -> str:
    """What kind of parameter `name` is for the type: id, lastUpdated, patient, date, token,
    string, or "" when the type has no such parameter."""
    search = SEARCH[resource_type]
    if name == "_id":
        return "id"
    if name == "_lastUpdated":
        return "lastUpdated"
    if name in patient_params(search):
        return "patient"
    if search.date_param and name == search.date_param:
        return "date"
    if name in search.tokens:
        return "token"
    if name in search.strings:
        return "string"
    return ""


def patient_params(search: TypeSearch) -> tuple[str, ...]:
    """`patient` for types that belong to a patient, plus `subject` where the reference is one."""
    if not search.patient or search.patient == ("self",):
        return ()
    return ("patient", "subject") if "subject" in search.patient else ("patient",)


def plan_search(
    organization_id: uuid.UUID,
    resource_type: str,
    params: Mapping[str, list[str]],
    base_url: str,
    strict: bool = False,
) -> Plan:
    """The checked plan of a search; raises a 400 FhirError naming the first bad parameter."""
    plan = Plan()
    for name, sent in params.items():
        values = [v for v in sent if v != ""]  # a parameter sent empty (code=) is ignored
        if not values:
            continue
        base, _, modifier = name.partition(":")
        if base in RESULT_PARAMS:
            _result_param(plan, resource_type, name, values)
            continue
        kind = parameter_kind(resource_type, base)
        if not kind:
            if strict:
                raise bad_parameter(
                    name,
                    f"this server does not support it for {resource_type} "
                    "(sent with Prefer: handling=strict).",
                )
            plan.ignored.append(name)
            continue
        _check_modifier(name, kind, modifier)
        for value in values:
            plan.filters.append(_filter(organization_id, resource_type, base, kind, value, base_url, plan))
        plan.kept.extend((name, v) for v in values)
    return plan


def _check_modifier(name: str, kind: str, modifier: str) -> None:
    if not modifier or (kind == "patient" and modifier == "Patient"):
        return
    raise bad_parameter(
        name,
        f"the modifier :{modifier} is not supported (string parameters match "
        "case-insensitive word prefixes; :exact and :contains are not offered).",
    )


def _filter(
    organization_id: uuid.UUID,
    resource_type: str,
    name: str,
    kind: str,
    value: str,
    base_url: str,
    plan: Plan,
) -> Q:
    if kind == "id":
        return id_filter([value])
    if kind == "lastUpdated":
        return any_of(name, [last_updated_filter(name, v) for v in each_value([value])])
    if kind == "date":
        return any_of(name, [date_filter(name, v) for v in each_value([value])])
    if kind == "patient":
        ids = patient_ids(name, [value], base_url)
        plan.patients.extend(ids)
        return Q(patient_ref__in=ids)
    if kind == "token":
        return token_filter(organization_id, resource_type, name, [value])
    return string_filter(organization_id, resource_type, name, [value])


def any_of(name: str, filters: list[Q]) -> Q:
    """The OR of a parameter's comma-separated alternatives."""
    if not filters:
        raise bad_parameter(name, "no value was given.")
    return functools.reduce(operator.or_, filters)


def _result_param(plan: Plan, resource_type: str, name: str, values: list[str]) -> None:
    value = values[-1]
    if name == "_count":
        plan.count = min(_whole_number(name, value), MAX_COUNT)
    elif name == "_offset":
        plan.offset = _whole_number(name, value)
    elif name == "_sort":
        plan.sort = _sort_keys(resource_type, values)
        plan.kept.append((name, ",".join(plan.sort)))
    elif name == "_summary":
        if value not in {"count", "false"}:
            raise bad_parameter(name, f"{value} is not supported (use count or false).")
        if value == "count":
            plan.count = 0
    elif name == "_format" and value.strip().lower() not in FORMAT_TYPES:
        raise FhirError.one(
            406,
            "not-supported",
            f"_format={value} is not supported: this server speaks JSON only (application/fhir+json).",
        )
    elif name == "_total":
        if value not in {"none", "estimate", "accurate"}:
            raise bad_parameter(name, f"{value} is not one of none, estimate, accurate.")
        plan.with_total = value != "none"
        plan.kept.append((name, value))


def _whole_number(name: str, value: str) -> int:
    if not value.isdigit():
        raise bad_parameter(name, f"{value!r} is not a whole number of 0 or more.")
    return int(value)


SORT_COLUMNS = {"_id": "resource_id", "_lastUpdated": "last_updated"}


def _sort_keys(resource_type: str, values: list[str]) -> list[str]:
    date_param = SEARCH[resource_type].date_param
    keys = [key.strip() for value in values for key in value.split(",") if key.strip()]
    for key in keys:
        bare = key.removeprefix("-")
        if bare not in SORT_COLUMNS and not (date_param and bare == date_param):
            offered = ", ".join([*SORT_COLUMNS, *([date_param] if date_param else [])])
            raise bad_parameter("_sort", f"cannot sort {resource_type} by {bare} (offered: {offered}).")
    return keys


def order_by(resource_type: str, keys: list[str]) -> list[OrderBy]:
    """The ORDER BY of sort keys (default newest change first), the id last as a tie-break.
    Missing dates sort last ascending and first descending, as PostgreSQL's index gives them."""
    keys = keys or ["-_lastUpdated"]
    order: list[OrderBy] = []
    for key in keys:
        bare = key.removeprefix("-")
        column = SORT_COLUMNS.get(bare, "date_start")
        order.append(
            F(column).desc(nulls_first=True) if key.startswith("-") else F(column).asc(nulls_last=True)
        )
    if not any(k.removeprefix("-") == "_id" for k in keys):
        order.append(F("resource_id").asc())
    return order


def search_bundle(
    actor: Actor,
    resource_type: str,
    params: Mapping[str, list[str]],
    base_url: str,
    prefer_strict: bool = False,
) -> bytes:
    """The searchset Bundle (JSON bytes) of a type-level search by `actor`, audited as one LIST.

    Raises FhirError: 404 for a type this server does not serve, 403 when the role may not read
    it, 400 for a bad parameter (or an unknown one when `prefer_strict`)."""
    access.require_read(actor, resource_type)
    plan = plan_search(actor.organization_id, resource_type, params, base_url, prefer_strict)
    rows = (
        StoredResource.objects.for_organization(actor.organization_id)
        .filter(*plan.filters, resource_type=resource_type)
        .order_by(*order_by(resource_type, plan.sort))
    )
    with transaction.atomic():
        found: list[tuple[str, str]] = []
        if plan.count:
            found = list(rows.values_list("resource_id", "body")[plan.offset : plan.offset + plan.count + 1])
        total = None
        if plan.with_total:
            # A first page with room to spare holds every match: no second query to count them.
            complete = plan.count and plan.offset == 0 and len(found) <= plan.count
            total = len(found) if complete else rows.count()
        page = Page(plan.count, plan.offset, has_next=len(found) > plan.count, total=total)
        record(
            actor,
            Action.LIST,
            resource_type,
            patient_id=_one_patient(resource_type, plan, params),
            detail=_audit_detail(params, min(len(found), plan.count), total),
        )
    warnings = [
        Issue(
            "not-supported",
            f"The search parameter {name} is not supported for {resource_type} and was ignored.",
            severity="warning",
        )
        for name in plan.ignored
    ]
    return searchset(base_url, resource_type, found[: plan.count], page, plan.kept, warnings)


def _audit_detail(params: Mapping[str, list[str]], count: int, total: int | None) -> dict[str, object]:
    """The parameter names (never their values: they may name a patient), the entries and total."""
    detail: dict[str, object] = {"params": sorted(n for n, v in params.items() if any(v)), "count": count}
    if total is not None:
        detail["total"] = total
    return detail


def _one_patient(resource_type: str, plan: Plan, params: Mapping[str, list[str]]) -> uuid.UUID | None:
    """The patient a search is for, when it names exactly one (for the audit trail)."""
    ids = set(plan.patients)
    if resource_type == "Patient":
        ids |= set(each_value(params.get("_id", [])))
    if len(ids) != 1:
        return None
    try:
        return uuid.UUID(ids.pop())
    except ValueError:
        return None

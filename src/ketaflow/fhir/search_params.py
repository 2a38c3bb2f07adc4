"""One search parameter's values as a filter on stored resources (FHIR R4 http.html#search).

Each function takes the values sent for one parameter (its modifier already checked) and returns a
Django `Q` over `StoredResource`, or raises a 400 `FhirError` naming the parameter. Values are split
on unescaped commas (OR); repeating a parameter ANDs its filters, which the caller does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db.models import Q

from .index import date_range
from .models import ResourceToken
from .outcome import FhirError

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def bad_parameter(name: str, why: str) -> FhirError:
    """A 400 naming the parameter, for a value or modifier this server cannot use."""
    return FhirError.one(400, "invalid", f"Search parameter {name}: {why}")


def split_values(text: str, separator: str = ",") -> list[str]:
    """`text` split on each `separator` not escaped with a backslash; escapes are kept for `unescape`."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if not escaped and char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
        escaped = not escaped and char == "\\"
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """`\\,`, `\\|`, `\\$` and `\\\\` stand for the character itself (R4 search escaping)."""
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char if char in ",|$\\" else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out) + ("\\" if escaped else "")


def each_value(values: Iterable[str]) -> list[str]:
    """Every comma-separated value of a parameter, unescaped, empty ones dropped."""
    return [unescape(part) for value in values for part in split_values(value) if part]


# --- dates -------------------------------------------------------------------------------------------


def date_prefix(name: str, value: str) -> tuple[str, dt.datetime, dt.datetime]:
    """The prefix of a date value (eq when none) and the [start, end) range its date covers."""
    prefix, text = "eq", value
    if value[:2].isalpha():
        prefix, text = value[:2], value[2:]
        if prefix not in DATE_PREFIXES:
            raise bad_parameter(
                name, f"the prefix {prefix} is not supported (use one of {', '.join(DATE_PREFIXES)})."
            )
    try:
        start, end = date_range(text)
    except ValueError as exc:
        raise bad_parameter(
            name,
            f"{value!r} is not a FHIR date or dateTime (e.g. 2024-05-06, ge2024-05, lt2024-05-06T10:00:00Z).",
        ) from exc
    return prefix, start, end


def date_filter(name: str, value: str) -> Q:
    """A match on the stored period [date_start, date_end] (inclusive; a missing start or end is
    open), with the R4 prefix meanings: eq = the period lies within the value's range; gt/ge = the
    period reaches after the range / into it; lt/le = it starts before the range / before it ends;
    sa = it starts after the range; eb = it ends before it; ne = not eq. Resources with no date
    never match."""
    prefix, low, high = date_prefix(name, value)
    # date_start < high is implied by date_end < high; stated, it bounds the date_start index range.
    within = Q(date_start__gte=low, date_start__lt=high, date_end__lt=high)
    reaches = Q(date_end__isnull=True, date_start__isnull=False)
    begins = Q(date_start__isnull=True, date_end__isnull=False)
    choices: dict[str, Q] = {
        "eq": within,
        "ne": (Q(date_start__isnull=False) | Q(date_end__isnull=False)) & ~within,
        "gt": Q(date_end__gte=high) | reaches,
        "ge": Q(date_end__gte=low) | reaches,
        "lt": Q(date_start__lt=low) | begins,
        "le": Q(date_start__lt=high) | begins,
        "sa": Q(date_start__gte=high),
        "eb": Q(date_end__lt=low),
    }
    return choices[prefix]


def last_updated_filter(name: str, value: str) -> Q:
    """A match on `last_updated`, an instant, at the precision of the value sent."""
    prefix, low, high = date_prefix(name, value)
    within = Q(last_updated__gte=low, last_updated__lt=high)
    choices: dict[str, Q] = {
        "eq": within,
        "ne": ~within,
        "gt": Q(last_updated__gte=high),
        "sa": Q(last_updated__gte=high),
        "ge": Q(last_updated__gte=low),
        "lt": Q(last_updated__lt=low),
        "eb": Q(last_updated__lt=low),
        "le": Q(last_updated__lt=high),
    }
    return choices[prefix]


# --- tokens and strings ------------------------------------------------------------------------------


def _tokens(organization_id: uuid.UUID, resource_type: str, param: str, match: Q) -> Q:
    rows = ResourceToken.objects.filter(
        organization_id=organization_id, resource_type=resource_type, param=param
    ).filter(match)
    return Q(pk__in=rows.values("resource_id"))


def token_filter(organization_id: uuid.UUID, resource_type: str, param: str, values: list[str]) -> Q:
    """`system|code`, `code` (any system), `|code` (no system) or `system|` (any code of the
    system); comma-separated values are alternatives."""
    match = Q()
    for raw in (part for value in values for part in split_values(value) if part):
        system, bar, code = _split_token(raw)
        if not bar:
            match |= Q(code=code)
        elif not code:
            match |= Q(system=system)
        else:
            match |= Q(system=system, code=code)
    if not match:
        raise bad_parameter(param, "no value was given.")
    return _tokens(organization_id, resource_type, param, match)


def _split_token(value: str) -> tuple[str, str, str]:
    parts = split_values(value, "|")
    if len(parts) == 1:
        return "", "", unescape(parts[0])
    return unescape(parts[0]), "|", unescape("|".join(parts[1:]))


def string_filter(organization_id: uuid.UUID, resource_type: str, param: str, values: list[str]) -> Q:
    """Case-insensitive prefix match of every word sent against the stored lower-cased words
    (`name=jo sm` finds "John Smith"); comma-separated values are alternatives."""
    match = Q()
    for value in each_value(values):
        words = value.lower().split()
        if not words:
            continue
        every = Q()
        for word in words:
            every &= _tokens(organization_id, resource_type, param, _prefix_range(word[:200]))
        match |= every
    if not match:
        raise bad_parameter(param, "no value was given.")
    return match


def _prefix_range(prefix: str) -> Q:
    """`code` starting with `prefix` as an index-friendly range: [prefix, prefix with its last
    character incremented). Exact under code-point ordering (SQLite, PostgreSQL's C collations),
    including characters past U+FFFF that a `prefix + '\\uffff'` bound would miss."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return Q(code__startswith=prefix)
    return Q(code__gte=prefix, code__lt=prefix[:-1] + chr(last + 1))


# --- ids and references ------------------------------------------------------------------------------


def id_filter(values: list[str]) -> Q:
    return Q(resource_id__in=each_value(values))


def patient_ids(name: str, values: list[str], base_url: str) -> list[str]:
    """The Patient ids of `patient`/`subject` values: `id`, `Patient/id` or `<base>/Patient/id`.
    A reference to another type is an error; another server's absolute URL matches nothing."""
    found: list[str] = []
    for value in each_value(values):
        reference = value.removeprefix(f"{base_url}/")
        if "://" in reference:
            continue
        kind, slash, ident = reference.rpartition("/")
        if slash and kind != "Patient":
            raise bad_parameter(
                name, f"{value} does not refer to a Patient; only Patient references are searchable here."
            )
        if ident:
            found.append(ident)
    return found

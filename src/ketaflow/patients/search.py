"""Reading a search box: each word is a date of birth, a phone number, an MRN or part of a name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from ketaflow.phones import phone_digits

from .fields import fold

_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%d.%m.%Y")
_MRN = re.compile(r"^[A-Za-z]{1,8}-?\d+$")


@dataclass
class PatientQuery:
    names: list[str] = field(default_factory=list)
    date_of_birth: date | None = None
    phone_digits: str = ""
    mrn: str = ""

    @property
    def empty(self) -> bool:
        return not (self.names or self.date_of_birth or self.phone_digits or self.mrn)


def parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


_PHONE_ONLY = re.compile(r"^[\d\s()+.-]+$")


def parse_query(text: str) -> PatientQuery:
    query = PatientQuery()
    whole = text.strip()
    if _PHONE_ONLY.match(whole) and len(phone_digits(whole)) >= 7 and not parse_date(whole):
        query.phone_digits = phone_digits(whole)[-10:]
        return query
    for word in text.replace(",", " ").split():
        when = parse_date(word)
        digits = phone_digits(word)
        if when:
            query.date_of_birth = when
        elif len(digits) >= 7 and len(digits) >= len(word) - 5:
            query.phone_digits = digits[-10:]
        elif _MRN.match(word) and any(ch.isdigit() for ch in word):
            query.mrn = word.upper()
        elif fold(word):
            query.names.append(fold(word))
    return query

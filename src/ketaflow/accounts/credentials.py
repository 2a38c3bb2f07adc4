"""Checks for the identifiers on a prescriber's record: DEA registration and NPI numbers.

DEA: two letters then seven digits; the seventh is the last digit of
(d1 + d3 + d5) + 2 * (d2 + d4 + d6). NPI: ten digits with a Luhn check digit computed over the
prefix 80840 and the first nine digits (CMS NPI check-digit specification).
"""

from __future__ import annotations

import re

_DEA = re.compile(r"^[A-Z][A-Z9][0-9]{7}$")


def dea_check_digit(six_digits: str) -> int:
    d = [int(c) for c in six_digits]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def dea_problem(value: str) -> str | None:
    """None when `value` is a well-formed DEA number, else what is wrong with it."""
    if not _DEA.match(value):
        return "A DEA number is two letters followed by seven digits, for example AB1234563."
    if dea_check_digit(value[2:8]) != int(value[8]):
        return "This DEA number's check digit does not match; check it for a typo."
    return None


def npi_check_digit(nine_digits: str) -> int:
    total = 24  # the prefix 80840 contributes 24 to the Luhn sum
    for index, char in enumerate(reversed(nine_digits)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_problem(value: str) -> str | None:
    """None when `value` is a well-formed NPI, else what is wrong with it."""
    if not re.fullmatch(r"[0-9]{10}", value):
        return "An NPI is ten digits."
    if npi_check_digit(value[:9]) != int(value[9]):
        return "This NPI's check digit does not match; check it for a typo."
    return None

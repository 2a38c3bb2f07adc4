"""OperationOutcome: every error the FHIR API returns, with the element path that caused it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue. `code` is from the FHIR issue-type value set (invalid, required,
    value, not-found, not-supported, forbidden, login, processing, conflict, exception...);
    `expression` holds FHIRPath-like element paths such as `Patient.name[0].given`."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def as_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = list(self.expression)
        return out


@dataclass
class FhirError(Exception):
    """An error answered with an OperationOutcome and `status`."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def one(cls, status: int, code: str, diagnostics: str, *paths: str) -> FhirError:
        return cls(status, [Issue(code, diagnostics, expression=tuple(paths))])

    def __str__(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues)


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in issues]}


def fhir_path(resource_type: str, location: Iterable[Any]) -> str:
    """A pydantic error location turned into an element path: ("name", 0, "given") on a Patient
    gives `Patient.name[0].given`."""
    path = resource_type
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part) not in {"__root__", "function-after[validate, Model]"}:
            path += f".{part}"
    return path

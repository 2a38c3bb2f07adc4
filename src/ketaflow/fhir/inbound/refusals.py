"""The ways an incoming resource is refused, each an OperationOutcome naming the element at fault.

`invalid` is a 422 for content ketaflow cannot accept; `NotStored` is a 422 for a valid resource
that carries nothing ketaflow records (a BMI, a panel of references, a cancelled reading): the API
refuses it, and a file import reports it as skipped with its reason. `translated` turns the domain
services' errors into FHIR errors whose paths name the FHIR elements the domain fields came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ketaflow.fhir.http import from_validation
from ketaflow.fhir.outcome import FhirError, Issue
from ketaflow.patients.services import PossibleDuplicates
from ketaflow.validation import Forbidden, NotFound, ValidationFailed


class NotStored(FhirError):
    """A valid resource whose content ketaflow does not record (422, issue code not-supported)."""

    @classmethod
    def because(cls, reason: str, *paths: str) -> NotStored:
        return cls(422, [Issue("not-supported", reason, expression=paths)])

    @property
    def reason(self) -> str:
        return str(self)


def invalid(message: str, *paths: str, code: str = "invalid") -> FhirError:
    """422: the resource is well formed but its content cannot be accepted."""
    return FhirError.one(422, code, message, *paths)


def malformed(message: str, *paths: str) -> FhirError:
    """400: a value is not what FHIR allows there (an unknown status code, a partial date)."""
    return FhirError.one(400, "value", message, *paths)


@contextmanager
def translated(paths: Mapping[str, str], whole: str) -> Iterator[None]:
    """Run domain service calls, turning their errors into FhirErrors.

    `paths` maps domain field names to FHIR element paths; `whole` names the resource, used for
    errors with no field (and for duplicates, permissions and missing records).
    """
    try:
        yield
    except ValidationFailed as error:
        raise _named(from_validation(error, dict(paths)), whole) from error
    except PossibleDuplicates as found:
        ids = ", ".join(f"Patient/{patient.pk}" for patient, _ in found.matches)
        raise FhirError.one(
            409,
            "duplicate",
            f"This may be a patient already registered ({ids}); "
            "check in ketaflow and register there to confirm a new person.",
            whole,
        ) from found
    except Forbidden as error:
        raise FhirError.one(403, "forbidden", str(error), whole) from error
    except NotFound as error:
        raise FhirError.one(404, "not-found", f"No such {error} in your organization.", whole) from error


def _named(error: FhirError, whole: str) -> FhirError:
    """Every issue names an element: issues the domain gave no field for name the whole resource."""
    error.issues = [
        issue if issue.expression else Issue(issue.code, issue.diagnostics, issue.severity, (whole,))
        for issue in error.issues
    ]
    return error


def within(error: FhirError, prefix: str) -> FhirError:
    """The same error with each path moved under `prefix` (e.g. `Bundle.entry[2].resource`):
    `Observation.valueQuantity.value` becomes `Bundle.entry[2].resource.valueQuantity.value`;
    paths already starting with `Bundle.` are kept."""
    issues = []
    for issue in error.issues:
        paths = tuple(_moved(path, prefix) for path in issue.expression) or (prefix,)
        issues.append(Issue(issue.code, issue.diagnostics, issue.severity, paths))
    moved = (
        NotStored(error.status, issues) if isinstance(error, NotStored) else FhirError(error.status, issues)
    )
    moved.headers = dict(error.headers)
    return moved


def _moved(path: str, prefix: str) -> str:
    if path.startswith("Bundle."):
        return path
    _, dot, rest = path.partition(".")
    return f"{prefix}.{rest}" if dot else prefix

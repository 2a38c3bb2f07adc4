"""Patient in: FHIR demographics mapped onto ketaflow's registry fields, written by the registry
services (`register_patient`, `update_patient`), so duplicates, phone rules and audit apply as in
the app.

Mapped: the official (else first current) name, a usual name or nickname as the preferred name,
birthDate, sex at birth (US Core birthsex extension), current mobile and home phones and email,
the home address, the first contact (emergency contact), ketaflow's own MRN identifier and the
home-clinic extension. Other identifiers are not taken as MRNs: ketaflow assigns its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from ketaflow.clinics.models import Clinic, Organization
from ketaflow.fhir import values
from ketaflow.fhir.mapping.patients import GENDER_IDENTITY, GENDER_IDENTITY_CODES, GENDER_IDENTITY_EXTENSION
from ketaflow.fhir.models import StoredResource
from ketaflow.patients.models import GenderIdentity, Patient
from ketaflow.patients.services import register_patient, update_patient

from .context import Context
from .parse import codes, fhir_date
from .refusals import invalid, translated

HOME_CLINIC = f"{values.KETAFLOW}/StructureDefinition/home-clinic"
BIRTH_SEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
SEX_AT_BIRTH = {"F": "female", "M": "male", "UNK": "unknown"}
CONTACT_ROLES = {"N": "Next of kin", "E": "Employer", "O": "Other", "U": "Unknown"}
GENDER_IDENTITIES = {code: GenderIdentity(identity) for identity, (code, _) in GENDER_IDENTITY_CODES.items()}
# Fields a PUT replaces (blank when absent); MRN and home clinic change only when given.
REPLACED = (
    "legal_given_name",
    "legal_middle_name",
    "legal_family_name",
    "preferred_name",
    "date_of_birth",
    "sex_at_birth",
    "phone_mobile",
    "phone_home",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
    "gender_identity",
    "gender_identity_text",
)
BLANK = {"sex_at_birth": "unknown", "date_of_birth": None}


@dataclass
class Mapped:
    """Registry fields read from a Patient, and the FHIR element each came from."""

    fields: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: Any, path: str) -> None:
        self.fields[name] = value
        self.paths[name] = path


def create(ctx: Context, body: dict[str, Any]) -> StoredResource:
    mapped = read(ctx, body)
    mapped.fields.setdefault("home_clinic_id", _first_clinic(ctx))
    with translated(mapped.paths, "Patient"):
        patient = register_patient(ctx.actor, mapped.fields)
    return ctx.stored("Patient", patient.pk)


def update(ctx: Context, patient_id: str, body: dict[str, Any]) -> StoredResource:
    current = ctx.own(Patient, patient_id, "Patient")
    mapped = read(ctx, body)
    if (
        body.get("gender") == "other"
        and "sex_at_birth" not in mapped.paths
        and current.sex_at_birth == "intersex"
    ):
        mapped.put("sex_at_birth", "intersex", "Patient.gender")  # what ketaflow itself sends for intersex
    changes = {name: mapped.fields.get(name, BLANK.get(name, "")) for name in REPLACED}
    changes.update((k, v) for k, v in mapped.fields.items() if k not in REPLACED)
    with translated(mapped.paths, "Patient"):
        patient = update_patient(ctx.actor, current.pk, changes)
    return ctx.stored("Patient", patient.pk)


def read(ctx: Context, body: dict[str, Any]) -> Mapped:
    mapped = Mapped()
    _names(body, mapped)
    if body.get("birthDate"):
        mapped.put("date_of_birth", fhir_date(body["birthDate"], "Patient.birthDate"), "Patient.birthDate")
    else:
        mapped.paths["date_of_birth"] = "Patient.birthDate"
    _sex(body, mapped)
    _gender_identity(body, mapped)
    _telecom(body, mapped)
    _address(body, mapped)
    _contact(body, mapped)
    _identifiers(ctx, body, mapped)
    clinic = _extension(body, HOME_CLINIC)
    if clinic:
        reference = str((clinic.get("valueReference") or {}).get("reference", ""))
        mapped.put(
            "home_clinic_id",
            reference.removeprefix("Location/"),
            f"Patient.extension[{clinic['index']}].valueReference",
        )
    return mapped


def _sex(body: dict[str, Any], mapped: Mapped) -> None:
    """Sex at birth from the US Core birthsex extension, else from a female or male `gender` (which
    is what ketaflow itself sends); `other` is not read as intersex, nor `unknown` as anything."""
    birth_sex = _extension(body, BIRTH_SEX)
    if birth_sex:
        mapped.put(
            "sex_at_birth",
            SEX_AT_BIRTH.get(str(birth_sex.get("valueCode")), "unknown"),
            f"Patient.extension[{birth_sex['index']}]",
        )
    elif body.get("gender") in ("female", "male"):
        mapped.put("sex_at_birth", body["gender"], "Patient.gender")


def _gender_identity(body: dict[str, Any], mapped: Mapped) -> None:
    found = _extension(body, GENDER_IDENTITY_EXTENSION)
    if not found:
        return
    at = f"Patient.extension[{found['index']}].valueCodeableConcept"
    concept = found.get("valueCodeableConcept") or {}
    code = next(iter(codes(concept, GENDER_IDENTITY)), "")
    if code not in GENDER_IDENTITIES:
        raise invalid(
            f"Use a code of {GENDER_IDENTITY} ketaflow records: {', '.join(GENDER_IDENTITIES)}.", at
        )
    identity = GENDER_IDENTITIES[code]
    mapped.put("gender_identity", identity, at)
    text = str(concept.get("text") or "") if identity == GenderIdentity.SELF_DESCRIBED else ""
    mapped.put("gender_identity_text", text, f"{at}.text")


def _current(element: dict[str, Any]) -> bool:
    """Not marked old and not ended in the past."""
    if element.get("use") == "old":
        return False
    end = (element.get("period") or {}).get("end", "")
    return not end or str(end)[:10] >= timezone.localdate().isoformat()


def _names(body: dict[str, Any], mapped: Mapped) -> None:
    names = [
        (i, n)
        for i, n in enumerate(body.get("name", []))
        if _current(n) and n.get("use") not in ("maiden", "anonymous")
    ]
    legal = next(((i, n) for i, n in names if n.get("use") == "official"), None)
    legal = legal or next(((i, n) for i, n in names if n.get("use") in (None, "usual")), None)
    at = f"Patient.name[{legal[0]}]" if legal else "Patient.name"
    given = list(legal[1].get("given", [])) if legal else []
    mapped.put("legal_given_name", given[0] if given else "", f"{at}.given")
    mapped.put("legal_middle_name", " ".join(given[1:]), f"{at}.given")
    mapped.put("legal_family_name", legal[1].get("family", "") if legal else "", f"{at}.family")
    for i, name in names:
        nick = (name.get("given") or [""])[0]
        if name.get("use") in ("usual", "nickname") and legal and i != legal[0] and nick:
            mapped.put("preferred_name", nick, f"Patient.name[{i}].given")
            break


def _telecom(body: dict[str, Any], mapped: Mapped) -> None:
    for i, point in enumerate(body.get("telecom", [])):
        value, use, system = point.get("value"), point.get("use"), point.get("system")
        if not value or not _current(point):
            continue
        path = f"Patient.telecom[{i}].value"
        if system == "email" and "email" not in mapped.fields:
            mapped.put("email", value, path)
        elif system in ("phone", "sms") and use in ("mobile", None) and "phone_mobile" not in mapped.fields:
            mapped.put("phone_mobile", value, path)
        elif system == "phone" and use == "home" and "phone_home" not in mapped.fields:
            mapped.put("phone_home", value, path)


def _address(body: dict[str, Any], mapped: Mapped) -> None:
    found = [
        (i, a) for i, a in enumerate(body.get("address", [])) if _current(a) and a.get("use") != "billing"
    ]
    if not found:
        return
    i, address = next(((i, a) for i, a in found if a.get("use") == "home"), found[0])
    at = f"Patient.address[{i}]"
    lines = list(address.get("line", []))
    mapped.put("address_line1", lines[0] if lines else "", f"{at}.line[0]")
    mapped.put("address_line2", ", ".join(lines[1:]), f"{at}.line[1]")
    mapped.put("city", address.get("city", ""), f"{at}.city")
    mapped.put("region", address.get("state", ""), f"{at}.state")
    mapped.put("postal_code", address.get("postalCode", ""), f"{at}.postalCode")


def _contact(body: dict[str, Any], mapped: Mapped) -> None:
    contacts = body.get("contact", [])
    if not contacts:
        return
    i = next((i for i, c in enumerate(contacts) if "C" in _relationship_codes(c)), 0)
    contact, at = contacts[i], f"Patient.contact[{i}]"
    name = contact.get("name") or {}
    text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
    mapped.put("emergency_contact_name", text, f"{at}.name")
    mapped.put("emergency_contact_relationship", _relationship(contact)[:60], f"{at}.relationship")
    phones = [(j, t) for j, t in enumerate(contact.get("telecom", [])) if t.get("system") == "phone"]
    j, phone = phones[0] if phones else (0, {})
    mapped.put("emergency_contact_phone", phone.get("value", ""), f"{at}.telecom[{j}].value")


def _relationship_codes(contact: dict[str, Any]) -> list[str]:
    return [str(c.get("code") or "") for r in contact.get("relationship", []) for c in r.get("coding", [])]


def _relationship(contact: dict[str, Any]) -> str:
    """The relationship as text ("Sister"); a bare role code other than C (emergency contact, implied
    here) gives its label ("Next of kin")."""
    relationships = contact.get("relationship", [])
    text = next((str(r["text"]) for r in relationships if r.get("text")), "")
    roles = [code for code in _relationship_codes(contact) if code != "C"]
    return text or (CONTACT_ROLES.get(roles[0], "") if roles else "")


def _identifiers(ctx: Context, body: dict[str, Any], mapped: Mapped) -> None:
    slug = Organization.objects.filter(pk=ctx.actor.organization_id).values_list("slug", flat=True).first()
    for i, identifier in enumerate(body.get("identifier", [])):
        if identifier.get("system") == values.mrn_system(slug or "") and identifier.get("value"):
            mapped.put("mrn", identifier["value"], f"Patient.identifier[{i}].value")
            return


def _extension(body: dict[str, Any], url: str) -> dict[str, Any] | None:
    for i, extension in enumerate(body.get("extension", [])):
        if extension.get("url") == url:
            return {**extension, "index": i}
    return None


def _first_clinic(ctx: Context) -> str:
    clinic = Clinic.objects.for_organization(ctx.actor.organization_id).filter(is_active=True).first()
    if clinic is None:
        raise invalid("Your organization has no active clinic to register the patient at.", "Patient")
    return str(clinic.pk)

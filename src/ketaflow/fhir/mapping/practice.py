"""FHIR mappers for the practice: Organization, Location and Group per clinic, Practitioner per staff member.

Ids follow the contract: Organization/<org pk>, Location/<clinic pk>, Group/<clinic pk> (the clinic's
patients, by home clinic), Practitioner/<staff pk>. References to rows other than the one mapped carry
no `display`, so renaming one row never leaves a stale name in another row's resources.
"""

from __future__ import annotations

from typing import Any

from ketaflow.accounts.models import StaffMember
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.fhir import values
from ketaflow.fhir.projection import projects

ORGANIZATION_IDENTIFIER = f"{values.KETAFLOW}/sid/organization"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
DEGREE_LICENCE = "http://terminology.hl7.org/CodeSystem/v2-0360"
# ketaflow credentials that HL7 v2 table 0360 (degree/licence/certificate) codes; the rest are text only.
V2_0360 = {"MD": "MD", "DO": "DO", "NP": "NP", "PA": "PA", "RN": "RN", "LPN": "LPN", "PhD": "PHD"}


def practitioner_ref(user: Any) -> dict[str, str] | None:
    """A reference to the Practitioner of `user` (a User, or None), or None when the user is not staff.

    Load the user with `select_related("<user field>__staff")` to avoid a query per row.
    """
    staff = getattr(user, "staff", None) if user is not None else None
    return values.ref("Practitioner", staff.pk) if staff is not None else None


@projects(Organization, organization=lambda row: row.pk)
def organization(row: Organization) -> list[dict[str, Any]]:
    return [
        values.compact(
            {
                "resourceType": "Organization",
                "id": str(row.pk),
                "identifier": [{"system": ORGANIZATION_IDENTIFIER, "value": row.slug}],
                "active": True,
                "type": [values.concept(values.coding(ORGANIZATION_TYPE, "prov", "Healthcare Provider"))],
                "name": row.name,
            }
        )
    ]


def _clinic_address(clinic: Clinic) -> dict[str, Any]:
    if not any((clinic.address_line1, clinic.address_line2, clinic.city, clinic.region, clinic.postal_code)):
        return {}
    return {
        "use": "work",
        "type": "physical",
        "line": [clinic.address_line1, clinic.address_line2],
        "city": clinic.city,
        "state": clinic.region,
        "postalCode": clinic.postal_code,
    }


@projects(Clinic)
def location(row: Clinic) -> list[dict[str, Any]]:
    return [
        values.compact(
            {
                "resourceType": "Location",
                "id": str(row.pk),
                "status": "active" if row.is_active else "inactive",
                "name": row.name,
                "mode": "instance",
                "telecom": [{"system": "phone", "value": row.phone, "use": "work"}] if row.phone else [],
                "address": _clinic_address(row),
                "physicalType": values.concept(values.coding(LOCATION_PHYSICAL_TYPE, "bu", "Building")),
                "managingOrganization": values.ref("Organization", row.organization_id),
            }
        )
    ]


@projects(Clinic)
def clinic_patients(row: Clinic) -> list[dict[str, Any]]:
    """The clinic's patients as a Group. Members are not listed (they change with every registration
    and would re-version the Group each time); bulk export resolves them from the home clinic."""
    return [
        values.compact(
            {
                "resourceType": "Group",
                "id": str(row.pk),
                "active": row.is_active,
                "type": "person",
                "actual": True,
                "name": f"{row.name} patients",
                "managingEntity": values.ref("Organization", row.organization_id),
            }
        )
    ]


def _staff_name(staff: StaffMember) -> dict[str, Any]:
    user = staff.user
    return {
        "use": "official",
        "text": user.get_full_name() or user.username,
        "family": user.last_name,
        "given": [user.first_name],
    }


def _qualification(staff: StaffMember) -> dict[str, Any]:
    if not staff.credential:
        return {}
    code = V2_0360.get(staff.credential, "")
    licence = {"value": staff.licence_number, "assigner": {"display": staff.licence_region}}
    return {
        "identifier": [licence] if staff.licence_number else [],
        "code": values.concept(values.coding(DEGREE_LICENCE, code) if code else {}, text=staff.credential),
    }


@projects(StaffMember, select_related=("user",))
def practitioner(row: StaffMember) -> list[dict[str, Any]]:
    telecom = [
        {"system": "phone", "value": row.phone, "use": "work"} if row.phone else {},
        {"system": "email", "value": row.user.email, "use": "work"} if row.user.email else {},
    ]
    return [
        values.compact(
            {
                "resourceType": "Practitioner",
                "id": str(row.pk),
                "identifier": [{"system": values.NPI, "value": row.npi}] if row.npi else [],
                "active": row.user.is_active,
                "name": [_staff_name(row)],
                "telecom": telecom,
                "qualification": [_qualification(row)],
            }
        )
    ]

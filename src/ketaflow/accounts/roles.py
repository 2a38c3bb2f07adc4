"""Staff roles and what each may do. One table, read by pages, API and services alike.

Owners and admins run the practice; clinical access comes from a clinical role, so a physician
owner holds both `owner` and `prescriber`. Only prescribers sign plans and doses; front desk sees
demographics and schedules but nothing clinical.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    THERAPIST = "therapist"
    FRONT_DESK = "front_desk"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.OWNER: "Owner",
    Role.ADMIN: "Administrator",
    Role.PRESCRIBER: "Prescriber",
    Role.NURSE: "Nurse",
    Role.THERAPIST: "Therapist / guide",
    Role.FRONT_DESK: "Front desk",
}


class Permission(StrEnum):
    VIEW_DEMOGRAPHICS = "patients.view_demographics"
    EDIT_DEMOGRAPHICS = "patients.edit_demographics"
    ARCHIVE_PATIENTS = "patients.archive"
    VIEW_CLINICAL = "clinical.view"
    EDIT_CLINICAL = "clinical.edit"
    SIGN_PLANS = "clinical.sign_plans"
    SIGN_DOSES = "clinical.sign_doses"
    VIEW_SCHEDULE = "schedule.view"
    EDIT_SCHEDULE = "schedule.edit"
    MANAGE_STAFF = "staff.manage"
    MANAGE_OWNERS = "staff.manage_owners"
    MANAGE_CLINICS = "clinics.manage"
    VIEW_AUDIT = "audit.view"
    MANAGE_CONSENT_FORMS = "clinical.manage_consent_forms"
    CHART_SESSIONS = "clinical.chart_sessions"
    HANDLE_CONTROLLED = "controlled.handle"


_P = Permission
_PRACTICE_ADMIN = {
    _P.VIEW_DEMOGRAPHICS,
    _P.EDIT_DEMOGRAPHICS,
    _P.ARCHIVE_PATIENTS,
    _P.VIEW_SCHEDULE,
    _P.EDIT_SCHEDULE,
    _P.MANAGE_STAFF,
    _P.MANAGE_CLINICS,
    _P.VIEW_AUDIT,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(_PRACTICE_ADMIN | {_P.MANAGE_OWNERS, _P.MANAGE_CONSENT_FORMS}),
    Role.ADMIN: frozenset(_PRACTICE_ADMIN | {_P.MANAGE_CONSENT_FORMS}),
    Role.PRESCRIBER: frozenset(
        {
            _P.VIEW_DEMOGRAPHICS,
            _P.EDIT_DEMOGRAPHICS,
            _P.ARCHIVE_PATIENTS,
            _P.VIEW_CLINICAL,
            _P.EDIT_CLINICAL,
            _P.SIGN_PLANS,
            _P.SIGN_DOSES,
            _P.VIEW_SCHEDULE,
            _P.EDIT_SCHEDULE,
            _P.MANAGE_CONSENT_FORMS,
            _P.CHART_SESSIONS,
            _P.HANDLE_CONTROLLED,
        }
    ),
    Role.NURSE: frozenset(
        {
            _P.VIEW_DEMOGRAPHICS,
            _P.EDIT_DEMOGRAPHICS,
            _P.VIEW_CLINICAL,
            _P.EDIT_CLINICAL,
            _P.VIEW_SCHEDULE,
            _P.EDIT_SCHEDULE,
            _P.CHART_SESSIONS,
            _P.HANDLE_CONTROLLED,
        }
    ),
    Role.THERAPIST: frozenset(
        {
            _P.VIEW_DEMOGRAPHICS,
            _P.VIEW_CLINICAL,
            _P.EDIT_CLINICAL,
            _P.VIEW_SCHEDULE,
        }
    ),
    Role.FRONT_DESK: frozenset(
        {
            _P.VIEW_DEMOGRAPHICS,
            _P.EDIT_DEMOGRAPHICS,
            _P.VIEW_SCHEDULE,
            _P.EDIT_SCHEDULE,
        }
    ),
}


def permissions_for(roles: frozenset[Role] | set[Role]) -> frozenset[Permission]:
    """The union of what each role allows."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


class Credential(StrEnum):
    """A prescriber's professional credential; the others are for clinical and support staff."""

    MD = "MD"
    DO = "DO"
    NP = "NP"
    PA = "PA"
    RN = "RN"
    LPN = "LPN"
    CRNA = "CRNA"
    PSYD = "PsyD"
    PHD = "PhD"
    LCSW = "LCSW"
    LPC = "LPC"
    LMFT = "LMFT"


PRESCRIBER_CREDENTIALS = frozenset({Credential.MD, Credential.DO, Credential.NP, Credential.PA})

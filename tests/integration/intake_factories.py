"""Helpers for the intake tests: a complete set of synthetic answers, issuing, answering, submitting.

Every name, number and answer here is made up.
"""

from __future__ import annotations

import copy
from typing import Any

from django.test import Client

from ketaflow.accounts.roles import Role
from ketaflow.intake.services import IssuedIntake, issue_intake, respondent_for_token, save_section
from ketaflow.intake.submission import submit_intake
from tests.factories import actor_of

CSSRS_CLEAR = {"1": 0, "2": 0, "6": 0}
CSSRS_LOW = {"1": 1, "2": 0, "6": 0}  # wished to be dead: the screener's "low"
CSSRS_HIGH = {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 0}

ANSWERS: dict[str, dict[str, Any]] = {
    "about": {
        "phone_mobile": "(503) 555-0199",
        "email": "quinn.intake@example.test",
        "preferred_contact": "sms",
        "address_line1": "12 Alder Street",
        "city": "Portland",
        "region": "OR",
        "postal_code": "97201",
        "emergency_contact_name": "Sam Example",
        "emergency_contact_relationship": "Partner",
        "emergency_contact_phone": "(503) 555-0123",
        "pharmacy_name": "Corner Pharmacy",
        "primary_care_name": "Dr. Lee Example",
    },
    "mental_health": {
        "diagnoses": ["depression", "anxiety"],
        "bipolar_disorder": "no",
        "psychotic_disorder": "unsure",
        "hospitalised": "no",
        "symptoms": "Low mood and poor sleep.",
        "cssrs": dict(CSSRS_CLEAR),
    },
    "medical": {
        "heart_disease": "no",
        "high_blood_pressure": "yes",
        "blood_pressure_controlled": "yes",
        "aneurysm": "no",
        "brain_bleed": "no",
        "avm": "unsure",
        "head_injury": "no",
        "raised_intracranial_pressure": "no",
        "glaucoma": "yes",
        "liver_disease": "no",
        "seizures": "no",
        "breathing_problems": "no",
        "height": "67",
        "height_unit": "in",
        "weight": "150",
        "weight_unit": "lb",
        "home_bp_systolic": "128",
        "home_bp_diastolic": "82",
        "home_bp_date": "2026-11-18",
    },
    "medications": {
        "medications": [
            {"name": "Xanax 0.5 mg", "dose": "at night"},
            {"name": "Sertraline", "dose": "100 mg"},
        ],
        "allergies": [{"substance": "Penicillin", "reaction": "Hives", "category": "medication"}],
        "ketamine_hypersensitivity": "no",
    },
    "treatments": {
        "antidepressants": [
            {"name": "Fluoxetine", "weeks": "10", "adequate_dose": "yes", "helped": "no"},
            {"name": "Escitalopram", "weeks": "8", "adequate_dose": "yes", "helped": "partly"},
            {"name": "Bupropion", "weeks": "3", "adequate_dose": "no", "helped": "no"},
        ],
        "therapy": "yes",
        "therapy_now": "yes",
        "ect": "no",
        "tms": "no",
        "prior_ketamine": "no",
    },
    "substances": {
        "alcohol_frequency": "monthly_or_less",
        "alcohol_per_day": "1_2",
        "alcohol_six_plus": "never",
        "alcohol_problem": "no",
        "cannabis": "never",
        "drugs_current": "no",
        "misuse_past": "no",
    },
    "pregnancy": {
        "pregnant": "no",
        "breastfeeding": "no",
        "planning_pregnancy": "no",
        "contraception": "yes",
        "contraception_method": "IUD",
    },
    "home": {"monitor": "yes", "bp_cuff": "unsure", "driver": "yes"},
    "goals": {"goals": "Feel like myself again.", "hopes": "Back at work."},
}


def answers(**changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A deep copy of ANSWERS with some sections replaced or updated (`medical={"glaucoma": "no"}`)."""
    found = copy.deepcopy(ANSWERS)
    for section, values in changes.items():
        found[section] = {**found[section], **values}
    return found


def issue(practice, channel: str = "in_person", role: Role = Role.FRONT_DESK) -> IssuedIntake:
    return issue_intake(actor_of(practice.staff[role]), practice.patient.pk, channel=channel)


def answer_all(
    token: str, given: dict[str, dict[str, Any]] | None = None, *, skip: tuple[str, ...] = ()
) -> None:
    """Save every section the patient answers through the service, as the link would."""
    for section_id, raw in (given or ANSWERS).items():
        respondent = respondent_for_token(token)
        if section_id in skip or (section_id == "pregnancy" and respondent.patient.sex_at_birth == "male"):
            continue
        save_section(respondent, section_id, copy.deepcopy(raw))


def submitted(practice, given: dict[str, dict[str, Any]] | None = None):
    issued = issue(practice)
    answer_all(issued.token, given)
    return submit_intake(respondent_for_token(issued.token))


def verified(path: str, practice, client: Client | None = None) -> Client:
    """A browser that confirmed the patient's date of birth at the link `path`."""
    client = client or Client()
    dob = practice.patient.date_of_birth
    response = client.post(path, {"step": "identity", "month": dob.month, "day": dob.day, "year": dob.year})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def post_data(section_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The section's answers as the page posts them (rows and C-SSRS items flattened)."""
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "cssrs":
            data.update({f"cssrs_screener.{item}": str(v) for item, v in value.items()})
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            data[f"{key}-count"] = str(len(value))
            for index, row in enumerate(value):
                data.update({f"{key}-{index}-{column}": cell for column, cell in row.items()})
        elif value is True:
            data[key] = "on"
        elif value is not False:
            data[key] = value
    return data

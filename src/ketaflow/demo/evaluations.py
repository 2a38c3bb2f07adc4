"""The demo's evaluation pathway: enquiries, intakes, evaluations, eligibility decisions and consents.

A handful of adult patients, written through the same services the pages use (so every row is
audited and validated): the front desk sees new, contacted, booked and closed leads; some patients
have submitted their intake, been evaluated, had routes signed (one approved over a caution with a
reason, one re-opened by a new medication) and consented (signed and countersigned, awaiting
signature, and withdrawn). Everything here is synthetic.
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.services import actor_for
from ketaflow.clinical.demographics import AgeBands, AgeGroup, age_on
from ketaflow.clinics.models import Organization
from ketaflow.consent import services as consent
from ketaflow.consent import signing
from ketaflow.consent.text import text_hash
from ketaflow.eligibility.decisions import assess_patient, sign_decision
from ketaflow.enquiries.leads import update_lead
from ketaflow.enquiries.public import submit_lead
from ketaflow.evaluation import services as evaluation
from ketaflow.intake.form import sections_for
from ketaflow.intake.services import issue_intake, respondent_for_token, save_section
from ketaflow.intake.submission import submit_intake
from ketaflow.patients.medications import add_medication
from ketaflow.patients.models import Patient
from ketaflow.patients.vital_signs import record_vitals

SCREEN_CLEAR: dict[str, Any] = {
    "age_group": "adult",
    "conditions": ["depression"],
    "antidepressants_tried": "two",
    "other_treatments": ["talk_therapy"],
    "pregnancy": "no",
    "psychosis": "no",
    "heart_blood_pressure": "no",
    "aneurysm_brain_bleed": "no",
    "ketamine_reaction": "no",
    "substance_use": "no",
    "suicidal_thoughts_now": "no",
}
# (name, answers changed from SCREEN_CLEAR, status the front desk has moved it to)
LEADS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("Jordan Demoenquiry", {"suicidal_thoughts_now": "yes"}, "new"),
    ("Avery Samplecaller", {"conditions": ["ptsd", "anxiety"]}, "new"),
    ("Riley Testinquiry", {"heart_blood_pressure": "yes"}, "contacted"),
    ("Morgan Placeholder", {"antidepressants_tried": "three_or_more"}, "booked"),
    ("Casey Fictitious", {"conditions": ["chronic_pain"]}, "closed"),
)

INTAKE: dict[str, dict[str, Any]] = {
    "about": {"emergency_contact_name": "Sam Demo-Contact", "emergency_contact_relationship": "Partner"},
    "mental_health": {
        "diagnoses": ["depression", "anxiety"], "bipolar_disorder": "no", "psychotic_disorder": "no",
        "hospitalised": "no", "symptoms": "Low mood most days; poor sleep.",
        "cssrs": {"1": 0, "2": 0, "6": 0},
    },
    "medical": {
        "heart_disease": "no", "high_blood_pressure": "no", "aneurysm": "no", "brain_bleed": "no",
        "avm": "no", "head_injury": "no", "raised_intracranial_pressure": "no", "glaucoma": "no",
        "liver_disease": "no", "seizures": "no", "breathing_problems": "no",
    },
    "medications": {
        "medications": [{"name": "Sertraline", "dose": "100 mg daily"}],
        "allergies": [], "no_known_allergies": True, "ketamine_hypersensitivity": "no",
    },
    "treatments": {
        "antidepressants": [
            {"name": "Fluoxetine", "weeks": "10", "adequate_dose": "yes", "helped": "no"},
            {"name": "Venlafaxine", "weeks": "12", "adequate_dose": "yes", "helped": "partly"},
        ],
        "therapy": "yes", "therapy_now": "yes", "ect": "no", "tms": "no", "prior_ketamine": "no",
    },
    "substances": {
        "alcohol_frequency": "monthly_or_less", "alcohol_per_day": "1_2", "alcohol_six_plus": "never",
        "alcohol_problem": "no", "cannabis": "never", "drugs_current": "no", "misuse_past": "no",
    },
    "pregnancy": {"pregnant": "no", "breastfeeding": "no", "planning_pregnancy": "no", "contraception": "yes",
                  "contraception_method": "IUD"},
    "home": {"monitor": "yes", "bp_cuff": "yes", "driver": "yes"},
    "goals": {"goals": "To feel like myself again.", "hopes": "Back to running on weekends."},
}
CLEAR_FACTS: dict[str, Any] = {
    "hypertension_uncontrolled": False, "cardiovascular_disease_poorly_controlled": False,
    "cardiovascular_risk": False, "aneurysmal_vascular_disease": False, "arteriovenous_malformation": False,
    "intracerebral_haemorrhage_history": False, "ketamine_hypersensitivity": False,
    "hepatic_impairment": "none",
    "raised_intracranial_pressure": False, "raised_intraocular_pressure": False, "active_psychosis": False,
    "psychotic_disorder": False, "bipolar_disorder": False, "substance_misuse_active": False,
    "alcohol_misuse_active": False, "pregnant": False, "breastfeeding": False, "home_monitor_present": True,
    "home_bp_cuff": True, "clinically_stable": True,
}
TRIALS = [
    {"drug": "fluoxetine", "drug_class": "ssri", "adequate": True, "outcome": "no_response"},
    {"drug": "venlafaxine", "drug_class": "snri", "adequate": True, "outcome": "partial_response"},
]
SHOWCASE = 6  # patients on the pathway: five evaluated, one sent the intake
SIGNATURE = ""  # the drawn signature is optional; the typed name is the signature


def _staff(organization: Organization, username: str) -> Actor:
    member = StaffMember.objects.select_related("user").get(
        organization=organization, user__username=username
    )
    actor = actor_for(member.user)
    if actor is None:
        raise RuntimeError(f"the demo account {username!r} has no staff access")
    return actor


def _leads(organization: Organization, frontdesk: Actor, totals: Counter[str]) -> None:
    for index, (name, changes, status) in enumerate(LEADS):
        contact = {"name": name, "phone": f"(503) 555-01{40 + index:02d}", "preferred_contact": "phone",
                   "consent_to_contact": True}
        lead, _result = submit_lead(organization, SCREEN_CLEAR | changes, contact, address=None, via="demo")
        totals["leads"] += 1
        if status != "new":
            changes_made: dict[str, Any] = {"status": status}
            if status == "closed":
                changes_made["closed_reason"] = "Chose a clinic nearer home."
            update_lead(frontdesk, lead.pk, changes_made)


def _intake(frontdesk: Actor, patient: Patient) -> None:
    issued = issue_intake(frontdesk, patient.pk, channel="in_person")
    respondent = respondent_for_token(issued.token)
    for section in sections_for(patient.sex_at_birth):  # the sections this patient is asked
        save_section(respondent, section.id, copy.deepcopy(INTAKE[section.id]))
    submit_intake(respondent_for_token(issued.token))  # afresh: it checks the answers saved since


def _evaluate(prescriber: Actor, nurse: Actor, patient: Patient, *, systolic: int) -> None:
    record_vitals(nurse, patient.pk, {
        "systolic_bp": systolic, "diastolic_bp": 82, "heart_rate": 74, "respiratory_rate": 14,
        "oxygen_saturation": 98, "temperature_c": "36.7", "weight_kg": "72.5", "height_cm": "170",
    }, measured_at=timezone.now() - timedelta(hours=2))
    evaluation.save_facts(prescriber, patient.pk, CLEAR_FACTS)
    evaluation.save_trials(prescriber, patient.pk, TRIALS, ect_failed=False)
    today = timezone.localdate()
    evaluation.save_labs(prescriber, patient.pk, {
        "ecg_date": today - timedelta(days=20), "ecg_result": "normal",
        "liver_tests_date": today - timedelta(days=20), "liver_tests_result": "normal",
    })
    evaluation.save_notes(prescriber, patient.pk, "Two failed adequate trials; motivated; support at home.")
    evaluation.complete_evaluation(prescriber, patient.pk)


def _sign(prescriber: Actor, patient: Patient, route: str, decision: str = "approve") -> None:
    result = assess_patient(patient).assessment.result(route)
    reason = ""
    if (decision == "approve") == (result.status.value in ("needs_review", "not_eligible")):
        reason = ("Reviewed in person: benefits outweigh the risks; extra monitoring in the plan."
                  if decision == "approve" else "Patient prefers IV infusions to the nasal spray.")
    sign_decision(prescriber, patient.pk, route, decision=decision, override_reason=reason,
                  expected_status=result.status.value)


def _consent(nurse: Actor, patient: Patient, route: str, *, sign: bool, countersign: bool) -> Any:
    requested = consent.request_consent(nurse, patient.pk, route)
    if not sign:
        return requested
    shown = signing.open_for_tablet(nurse, requested.pk)
    form = signing.Signing(typed_name=f"{patient.legal_given_name} {patient.legal_family_name}",
                           signature=SIGNATURE, agreed=True, text_hash=text_hash(shown.template))
    signed = signing.sign_on_tablet(nurse, requested.pk, form, signing.Device("127.0.0.1", "demo tablet"))
    if countersign:
        consent.countersign(nurse, signed.pk)
    return signed


def showcase_patients(organization: Organization, today: date, count: int = SHOWCASE) -> list[Patient]:
    """The first `count` active adults by MRN (not adolescents, not older adults): the intake's answers
    (alcohol, driving, contraception) are an adult's, and an adolescent's approval would need its own
    review (clinical reference §3). Read in MRN order and stopped early, so its cost does not grow
    with the registry."""
    bands = AgeBands()
    rows = Patient.objects.for_organization(organization.pk).filter(archived_at__isnull=True).order_by("mrn")
    adults = (p for p in rows.iterator(chunk_size=4 * count)
              if bands.group(age_on(p.date_of_birth, today)) == AgeGroup.ADULT)
    return list(itertools.islice(adults, count))


def load_evaluations(organization: Organization, patients: Sequence[Patient]) -> dict[str, int]:
    """Write the evaluation pathway for `patients` (see `showcase_patients`): the first five are
    evaluated, the sixth has only been sent the intake. Returns row counts by kind."""
    totals: Counter[str] = Counter()
    frontdesk = _staff(organization, "frontdesk")
    prescriber = _staff(organization, "np")
    nurse = _staff(organization, "nurse")
    _leads(organization, frontdesk, totals)
    chosen = patients[:5]
    for waiting in patients[5:6]:  # a new patient who has been sent the intake and not started it
        issue_intake(frontdesk, waiting.pk, channel="in_person")
        totals["intakes sent"] += 1
    for index, patient in enumerate(chosen):
        if index < 3:
            _intake(frontdesk, patient)
            totals["intakes submitted"] += 1
        _evaluate(prescriber, nurse, patient, systolic=146 if index == 2 else 124)
        totals["evaluations"] += 1
        _sign(prescriber, patient, "iv")
        totals["decisions"] += 1
        if index == 1:
            _sign(prescriber, patient, "esketamine", decision="decline")
            totals["decisions"] += 1
        if index == 0:
            _sign(prescriber, patient, "sublingual_home")
            totals["decisions"] += 1
        if index == 3:  # a new medication after signing: the IV decision re-opens
            add_medication(prescriber, patient.pk, catalogue_id="phenelzine", dose="15 mg three times daily")
        signed = _consent(nurse, patient, "iv", sign=index != 3, countersign=index in (0, 1, 2, 4))
        totals["consents"] += 1
        if index == 4:
            consent.withdraw_by_staff(nurse, signed.pk, "Chose to pause treatment (told us by phone).")
    return dict(totals)

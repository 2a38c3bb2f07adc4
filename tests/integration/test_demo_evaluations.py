"""The demo's evaluation pathway (leads, intakes, evaluations, signed decisions, consents), checked on a
small practice (20 patients)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from ketaflow.audit.models import AuditEvent, chain_key
from ketaflow.audit.trail import verify_chain
from ketaflow.clinical.demographics import ADULT_FROM_AGE, OLDER_ADULT_FROM_AGE, age_on
from ketaflow.clinics.models import Organization
from ketaflow.consent.models import Consent
from ketaflow.demo.evaluations import showcase_patients
from ketaflow.demo.loader import DemoSummary
from ketaflow.eligibility.models import EligibilityDecision
from ketaflow.enquiries.models import Lead
from ketaflow.evaluation.models import Evaluation
from ketaflow.intake.models import Intake
from ketaflow.measurement.models import Notification
from ketaflow.patients.models import Medication, Patient
from tests.integration.demo_support import module_demo

pytestmark = pytest.mark.django_db
PATIENTS = 20


demo = module_demo(PATIENTS)


def _on_the_pathway(demo: DemoSummary) -> set[object]:
    org = demo.organization_id
    return (set(Intake.objects.for_organization(org).values_list("patient_id", flat=True))
            | set(Evaluation.objects.for_organization(org).values_list("patient_id", flat=True)))


def test_the_pathway_is_shown_on_six_active_adults_under_the_older_adult_age(demo):
    today = timezone.localdate()
    chosen = Patient.objects.filter(pk__in=_on_the_pathway(demo))
    assert chosen.count() == 6
    for patient in chosen:
        assert patient.archived_at is None
        assert ADULT_FROM_AGE <= age_on(patient.date_of_birth, today) < OLDER_ADULT_FROM_AGE
    organization = Organization.objects.get(pk=demo.organization_id)
    assert {p.pk for p in showcase_patients(organization, today)} == {p.pk for p in chosen}


def test_the_front_desk_has_leads_in_each_state_and_the_one_at_risk_is_flagged(demo):
    leads = list(Lead.objects.for_organization(demo.organization_id))
    assert demo.evaluations["leads"] == len(leads) == 5
    assert Counter(lead.status for lead in leads) == {"new": 2, "contacted": 1, "booked": 1, "closed": 1}
    assert [lead.name for lead in leads if lead.risk_endorsed] == ["Jordan Demoenquiry"]
    assert all(lead.closed_reason for lead in leads if lead.status == "closed")


def test_decisions_carry_reasons_where_they_depart_from_the_assessment_and_one_has_reopened(demo):
    org = demo.organization_id
    intakes = Counter(Intake.objects.for_organization(org).values_list("status", flat=True))
    assert intakes == {Intake.Status.SUBMITTED: 3, Intake.Status.INVITED: 1}
    completed = Evaluation.objects.for_organization(org).filter(status=Evaluation.Status.COMPLETED)
    assert demo.evaluations["evaluations"] == completed.count() == 5

    decisions = list(EligibilityDecision.objects.for_organization(org))
    assert demo.evaluations["decisions"] == len(decisions) == 7
    departures = [d for d in decisions
                  if (d.decision == "approve") == (d.assessed_status in ("needs_review", "not_eligible"))]
    assert departures, "the demo shows at least one decision that departs from the assessment"
    assert all(d.override_reason for d in departures)
    assert not any(d.override_reason for d in decisions if d not in departures)

    reopened = [d for d in decisions if d.status == EligibilityDecision.State.REOPENED]
    assert len(reopened) == 1 and reopened[0].route == "iv"
    assert [change["fact"] for change in reopened[0].reopen_changes] == ["medication_classes"]
    assert "maoi" in reopened[0].reopen_changes[0]["after"]
    assert Medication.objects.filter(patient_id=reopened[0].patient_id, catalogue_id="phenelzine").exists()
    notice = Notification.objects.for_organization(org).get(
        safety_alert__isnull=True, patient_id=reopened[0].patient_id  # (not a session alert's notice)
    )
    assert (notice.recipient_id, notice.patient_id, notice.read_at) == (
        reopened[0].signed_by_id, reopened[0].patient_id, None
    )


def test_consents_are_signed_and_countersigned_awaiting_a_signature_or_withdrawn(demo):
    consents = list(Consent.objects.for_organization(demo.organization_id))
    assert demo.evaluations["consents"] == len(consents) == 5
    assert {c.route for c in consents} == {"iv"}
    signed = [c for c in consents if c.status == Consent.Status.SIGNED]
    assert len(signed) == 3
    assert all(c.signed_at and c.countersigned_at and c.typed_name for c in signed)
    waiting = [c for c in consents if c.status == Consent.Status.REQUESTED]
    assert len(waiting) == 1 and waiting[0].signed_at is None
    withdrawn = [c for c in consents if c.status == Consent.Status.WITHDRAWN]
    assert len(withdrawn) == 1 and withdrawn[0].withdrawn_at and withdrawn[0].withdrawal_reason
    # Every step went through the services: each consent has its audit trail and the chain holds.
    for consent in consents:
        assert AuditEvent.objects.filter(object_type="Consent", object_id=str(consent.pk)).exists()
    assert verify_chain(chain_key(demo.organization_id)).ok

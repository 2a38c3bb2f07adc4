"""The patient pages: search, registration, editing, archiving, the chart and its record actions."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaflow.accounts.roles import Permission, Role, permissions_for
from ketaflow.audit.models import Action, AuditEvent
from ketaflow.patients.chart import register_tab, tabs_for
from ketaflow.patients.models import Allergy, AllergyStatus, Condition, Patient, PatientAlert
from tests.factories import AlertFactory, AllergyFactory, ConditionFactory, PatientFactory, actor_of
from tests.integration.pages import PAGE_TEST_MARKS, field_error, htmx, signed_in, text_of

pytestmark = PAGE_TEST_MARKS

CLINICAL_ROLES = [r for r in Role if Permission.VIEW_CLINICAL in permissions_for({r})]
NON_CLINICAL_ROLES = [r for r in Role if Permission.VIEW_CLINICAL not in permissions_for({r})]


@pytest.fixture
def findable(practice):
    """A patient with every searchable detail set to something distinctive."""
    return PatientFactory(
        home_clinic=practice.clinic, legal_given_name="Marisol", legal_family_name="Quintero-Vale",
        preferred_name="Mari", date_of_birth=dt.date(1979, 3, 14), mrn="KF-004217",
        phone_mobile="+15035550173",
    )


def registration(practice, **overrides):
    data = {
        "legal_given_name": "Tobias", "legal_family_name": "Wrenfield", "date_of_birth": "1990-07-04",
        "home_clinic_id": str(practice.clinic.pk), "phone_mobile": "(503) 555-0188",
        "sex_at_birth": "male", "gender_identity": "", "preferred_contact": "sms",
    }
    return data | overrides


# ---------- Search ----------

@pytest.mark.parametrize("query", [
    "Quintero", "marisol quintero", "Mari", "1979-03-14", "03/14/1979", "KF-004217", "kf-004217",
    "(503) 555-0173", "503-555-0173", "5035550173",
])
def test_a_search_by_name_date_of_birth_mrn_or_phone_finds_the_patient(practice, findable, query):
    response = signed_in(practice.staff[Role.FRONT_DESK]).get("/patients/", {"q": query})
    assert response.status_code == 200
    text = text_of(response)
    assert "Quintero-Vale, Marisol" in text
    assert "1 patient" in text
    assert practice.patient.legal_family_name not in text


def test_the_results_show_name_preferred_name_birth_date_age_mrn_phone_and_clinic(practice, findable):
    text = text_of(signed_in(practice.staff[Role.NURSE]).get("/patients/", {"q": "Quintero"}))
    assert "“Mari”" in text
    assert "03/14/1979" in text
    assert "age " in text
    assert "KF-004217" in text
    assert "(503) 555-0173" in text
    assert practice.clinic.name in text


def test_live_search_answers_htmx_with_only_the_results_and_the_count(practice, findable):
    client = signed_in(practice.staff[Role.FRONT_DESK])
    response = client.get("/patients/", {"q": "Quintero"}, headers=htmx("patient-results"))
    html = response.content.decode()
    assert "<html" not in html
    assert "Quintero-Vale, Marisol" in html
    assert 'id="result-status" hx-swap-oob="innerHTML"' in html
    assert "1 patient matching “Quintero”" in text_of(response)
    assert "no-store" in response["Cache-Control"]
    assert "HX-Request" in response["Vary"]


def test_the_search_page_works_without_javascript_and_wires_up_live_search(practice, findable):
    response = signed_in(practice.staff[Role.FRONT_DESK]).get("/patients/", {"q": "Quintero"})
    html = response.content.decode()
    assert "<html" in html
    assert '<label for="id_q">Search patients</label>' in html
    assert "Name, date of birth, MRN or phone" in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-target="#patient-results"' in html
    assert "hx-push-url" not in html  # search words (names) must not land in the browser history
    assert 'aria-live="polite"' in html
    assert 'value="Quintero"' in html
    assert "Quintero-Vale, Marisol" in html


def test_the_clinic_filter_narrows_the_list(practice, findable):
    from tests.factories import ClinicFactory

    other = ClinicFactory(organization=practice.org, name="Riverside Annex")
    PatientFactory(home_clinic=other, legal_family_name="Annexpatient")
    client = signed_in(practice.staff[Role.FRONT_DESK])
    everyone = text_of(client.get("/patients/"))
    assert "Annexpatient" in everyone and "Quintero-Vale" in everyone
    annex = text_of(client.get("/patients/", {"clinic": str(other.pk)}))
    assert "Annexpatient" in annex
    assert "Quintero-Vale" not in annex


def test_the_list_is_paginated_and_page_links_keep_the_search(practice):
    for n in range(27):
        PatientFactory(home_clinic=practice.clinic, legal_family_name=f"Pagetest{n:02d}")
    client = signed_in(practice.staff[Role.FRONT_DESK])
    first = client.get("/patients/", {"q": "Pagetest"})
    assert "Page 1 of 2" in text_of(first)
    assert "?q=Pagetest&amp;page=2" in first.content.decode()
    second = text_of(client.get("/patients/", {"q": "Pagetest", "page": "2"}))
    assert "Pagetest25" in second and "Pagetest26" in second
    assert "Pagetest00" not in second


def test_searching_is_recorded_without_the_search_text(practice, findable):
    signed_in(practice.staff[Role.FRONT_DESK]).get("/patients/", {"q": "Quintero"})
    event = AuditEvent.objects.filter(organization=practice.org, action=Action.LIST,
                                      object_type="Patient").latest("seq")
    assert event.detail["shown"] == [str(findable.pk)]
    assert "Quintero" not in str(event.detail)


def test_an_archived_patient_disappears_from_search_but_stays_readable(practice, findable):
    owner = signed_in(practice.staff[Role.OWNER])
    response = owner.post(f"/patients/{findable.pk}/archive/", {"reason": "Duplicate record"}, follow=True)
    assert response.redirect_chain == [(f"/patients/{findable.pk}/", 302)]
    assert "The patient is archived. The record stays readable." in text_of(response)
    assert "Quintero-Vale" not in text_of(owner.get("/patients/", {"q": "Quintero"}))
    assert "Quintero-Vale, Marisol" in text_of(owner.get("/patients/", {"q": "Quintero", "archived": "on"}))
    chart = owner.get(f"/patients/{findable.pk}/")
    assert chart.status_code == 200
    text = text_of(chart)
    assert "Marisol Quintero-Vale" in text
    assert "Archived on" in text and "Duplicate record" in text
    assert "Restore patient" in text
    assert "Edit details" not in text


def test_archiving_needs_a_reason_and_restoring_brings_the_patient_back(practice, findable):
    owner = signed_in(practice.staff[Role.OWNER])
    refused = owner.post(f"/patients/{findable.pk}/archive/", {"reason": "  "})
    assert refused.status_code == 200
    assert field_error(refused, "id_reason") == "Say why this patient is being archived."
    findable.refresh_from_db()
    assert findable.archived_at is None
    owner.post(f"/patients/{findable.pk}/archive/", {"reason": "Moved away"})
    owner.post(f"/patients/{findable.pk}/restore/")
    findable.refresh_from_db()
    assert findable.archived_at is None
    assert "Quintero-Vale, Marisol" in text_of(owner.get("/patients/", {"q": "Quintero"}))


# ---------- Registration and editing ----------

def test_registering_a_patient_saves_them_and_opens_their_chart(practice):
    client = signed_in(practice.staff[Role.FRONT_DESK])
    response = client.post("/patients/new/", registration(practice, date_of_birth="07/04/1990"))
    patient = Patient.objects.get(legal_family_name="Wrenfield")
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert "Wrenfield" not in str(response.cookies.get("messages", ""))  # flash messages sit in a cookie
    assert patient.date_of_birth == dt.date(1990, 7, 4)
    assert patient.phone_mobile == "+15035550188"
    assert patient.organization_id == practice.org.pk
    chart = text_of(client.get(response["Location"]))
    assert "The patient is registered" in chart
    assert f"MRN {patient.mrn}" in chart


def test_the_registration_form_has_labelled_grouped_fields_and_only_our_clinics(practice, stranger):
    html = signed_in(practice.staff[Role.FRONT_DESK]).get("/patients/new/").content.decode()
    for legend in ("Identity", "Contact", "Emergency contact", "Pharmacy", "Care team"):
        assert f"<legend>{legend}</legend>" in html
    assert '<label for="id_legal_given_name">Legal first name' in html
    assert '<label for="id_legal_family_name">Legal last name' in html
    assert '<label for="id_date_of_birth">Date of birth' in html
    assert 'type="date"' in html
    assert '<label for="id_home_clinic_id">Home clinic' in html
    assert '<label for="id_phone_mobile">Mobile phone' in html
    assert practice.clinic.name in html
    assert stranger.clinic.name not in html
    assert ">Register patient</button>" in html


def test_registration_errors_show_next_to_each_field_with_a_summary_and_nothing_is_saved(practice):
    before = Patient.objects.count()
    response = signed_in(practice.staff[Role.FRONT_DESK]).post(
        "/patients/new/", registration(practice, legal_family_name="", phone_mobile="12", email="nope")
    )
    assert response.status_code == 200
    assert Patient.objects.count() == before
    assert field_error(response, "id_legal_family_name") == "This field is required."
    assert "area code" in field_error(response, "id_phone_mobile")
    assert field_error(response, "id_email") == "Enter a valid email address."
    html = response.content.decode()
    assert 'class="error-summary"' in html
    assert 'href="#id_legal_family_name"' in html
    assert 'value="Tobias"' in html


def test_a_possible_duplicate_is_shown_and_registering_anyway_needs_the_tick(practice, findable):
    client = signed_in(practice.staff[Role.FRONT_DESK])
    data = registration(practice, legal_given_name="Marisol", legal_family_name="Quintero-Vale",
                        date_of_birth="1979-03-14")
    first = client.post("/patients/new/", data)
    text = text_of(first)
    assert "This person may already be registered" in text
    assert "KF-004217" in text and "03/14/1979" in text
    assert "same date of birth" in text
    assert f'href="/patients/{findable.pk}/"' in first.content.decode()
    assert "None of these is the same person" in text
    assert "Register anyway" in text
    assert Patient.objects.filter(legal_family_name="Quintero-Vale").count() == 1

    unticked = client.post("/patients/new/", data | {"register_anyway": "1"})
    assert "Tick “None of these is the same person”" in field_error(unticked, "id_confirm_not_duplicate")
    assert Patient.objects.filter(legal_family_name="Quintero-Vale").count() == 1

    confirmed = client.post("/patients/new/", data | {"confirm_not_duplicate": "on", "register_anyway": "1"})
    assert confirmed.status_code == 302
    assert Patient.objects.filter(legal_family_name="Quintero-Vale").count() == 2


def test_editing_a_patient_saves_the_changes(practice, findable):
    client = signed_in(practice.staff[Role.FRONT_DESK])
    form = client.get(f"/patients/{findable.pk}/edit/")
    assert 'value="(503) 555-0173"' in form.content.decode()
    data = registration(practice, legal_given_name="Marisol", legal_family_name="Quintero-Vale",
                        date_of_birth="1979-03-14", pronouns="she/her", mrn="KF-004217")
    response = client.post(f"/patients/{findable.pk}/edit/", data)
    assert response.status_code == 302
    findable.refresh_from_db()
    assert findable.pronouns == "she/her"
    assert findable.phone_mobile == "+15035550188"


def test_a_therapist_cannot_edit_or_archive_and_sees_no_such_actions(practice, findable):
    therapist = signed_in(practice.staff[Role.THERAPIST])
    chart = text_of(therapist.get(f"/patients/{findable.pk}/"))
    assert "Edit details" not in chart
    list_page = text_of(therapist.get("/patients/"))
    assert "New patient" not in list_page
    assert therapist.get(f"/patients/{findable.pk}/edit/").status_code == 403
    assert therapist.post(f"/patients/{findable.pk}/archive/", {"reason": "x"}).status_code == 403
    findable.refresh_from_db()
    assert findable.archived_at is None


def test_front_desk_can_edit_but_not_archive(practice, findable):
    desk = signed_in(practice.staff[Role.FRONT_DESK])
    edit = text_of(desk.get(f"/patients/{findable.pk}/edit/"))
    assert "Save changes" in edit
    assert "Archive patient" not in edit
    assert desk.post(f"/patients/{findable.pk}/archive/", {"reason": "x"}).status_code == 403


# ---------- The chart ----------

def test_viewing_a_chart_writes_a_read_audit_event(practice, findable):
    nurse = practice.staff[Role.NURSE]
    signed_in(nurse).get(f"/patients/{findable.pk}/")
    event = AuditEvent.objects.filter(organization=practice.org, action=Action.READ).latest("seq")
    assert event.patient_id == findable.pk
    assert event.username == nurse.user.username
    assert event.object_type == "Patient"


def test_the_chart_header_shows_identity_allergies_alerts_problems_and_no_plan_yet(practice, findable):
    AllergyFactory(patient=findable, substance="Sulfamethoxazole", reaction="Rash")
    ConditionFactory(patient=findable)
    AlertFactory(patient=findable, category=PatientAlert.Category.SAFETY, message="Needs escort home")
    findable.pronouns = "she/her"
    findable.save()
    response = signed_in(practice.staff[Role.PRESCRIBER]).get(f"/patients/{findable.pk}/")
    html, text = response.content.decode(), text_of(response)
    assert "Marisol Quintero-Vale “Mari”" in text
    assert "Pronouns she/her" in text
    assert "Born 03/14/1979" in text
    assert "MRN KF-004217" in text
    assert 'class="allergy-alert"' in html
    assert "Sulfamethoxazole: Rash" in text
    assert "Safety: Needs escort home" in text
    assert "Major depressive disorder" in text
    assert "Active plan: none yet" in text


def test_an_unreviewed_allergy_status_says_so(practice, findable):
    text = text_of(signed_in(practice.staff[Role.NURSE]).get(f"/patients/{findable.pk}/"))
    assert "Allergies not yet reviewed" in text


@pytest.mark.parametrize("role", list(Role))
def test_only_clinical_roles_see_allergies_problems_and_clinical_alerts(practice, findable, role):
    AllergyFactory(patient=findable, substance="Latexium")
    ConditionFactory(patient=findable, display="Posttraumatic stress disorder", note="Chart-only note")
    AlertFactory(patient=findable, category=PatientAlert.Category.CLINICAL, message="Check blood pressure")
    AlertFactory(patient=findable, category=PatientAlert.Category.ADMINISTRATIVE, message="Pays by card")
    client = signed_in(practice.staff[role])
    pages = [client.get(f"/patients/{findable.pk}/")]
    tabs = tabs_for(actor_of(practice.staff[role]))
    pages += [client.get(f"/patients/{findable.pk}/{tab.slug}/") for tab in tabs]
    seen = " ".join(text_of(page) for page in pages)
    assert "Pays by card" in seen
    clinical = ("Latexium", "Posttraumatic stress disorder", "Chart-only note", "Check blood pressure",
                "Allergies", "Active plan")
    if role in CLINICAL_ROLES:
        assert all(phrase in seen for phrase in clinical)
    else:
        assert not any(phrase in seen for phrase in clinical)
        assert client.get(f"/patients/{findable.pk}/problems/").status_code == 403


def test_front_desk_sees_only_the_summary_tab(practice, findable):
    html = signed_in(practice.staff[Role.FRONT_DESK]).get(f"/patients/{findable.pk}/").content.decode()
    assert "Summary" in html
    assert "Problems &amp; allergies" not in html
    assert "Access log" not in html


def test_the_summary_tab_shows_contacts_pharmacy_and_care_team(practice, findable):
    findable.emergency_contact_name = "Ines Vale"
    findable.emergency_contact_phone = "+15035550111"
    findable.pharmacy_name = "Alder Street Pharmacy"
    findable.primary_care_name = "Dr Okonkwo"
    findable.save()
    text = text_of(signed_in(practice.staff[Role.FRONT_DESK]).get(f"/patients/{findable.pk}/summary/"))
    assert "Ines Vale" in text
    assert "(503) 555-0111" in text
    assert "Alder Street Pharmacy" in text
    assert "Dr Okonkwo" in text


def test_a_tab_is_fetched_as_a_fragment_for_htmx(practice, findable):
    response = signed_in(practice.staff[Role.NURSE]).get(
        f"/patients/{findable.pk}/problems/", headers=htmx("chart-body")
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'aria-current="page">Problems &amp; allergies</a>' in html
    assert 'id="chart-header" hx-swap-oob="innerHTML"' in html


def test_an_unknown_tab_is_not_found(practice, findable):
    assert signed_in(practice.staff[Role.NURSE]).get(f"/patients/{findable.pk}/nonsense/").status_code == 404


def test_the_access_log_tab_lists_who_opened_this_chart(practice, findable):
    signed_in(practice.staff[Role.NURSE]).get(f"/patients/{findable.pk}/")
    text = text_of(signed_in(practice.staff[Role.OWNER]).get(f"/patients/{findable.pk}/access-log/"))
    assert practice.staff[Role.NURSE].user.username in text
    assert "Nurse" in text
    assert "Read" in text
    assert "127.0.0.1" in text


def test_a_tab_slug_that_collides_with_a_chart_action_is_refused():
    with pytest.raises(ValueError):
        register_tab("archive", "Archive", Permission.VIEW_DEMOGRAPHICS, "x.html", lambda a, p: {})


# ---------- Record actions ----------

def test_adding_an_allergy_with_htmx_returns_the_updated_tab_and_header(practice, findable):
    response = signed_in(practice.staff[Role.NURSE]).post(
        f"/patients/{findable.pk}/allergies/",
        {"tab": "problems", "allergy-substance": "Ondansetron", "allergy-category": "medication",
         "allergy-reaction": "Headache", "allergy-severity": "mild"},
        headers=htmx("chart-body"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="chart-header" hx-swap-oob="innerHTML"' in html
    assert 'class="allergy-alert"' in html
    assert "Allergy recorded." in html
    assert "Ondansetron" in html
    findable.refresh_from_db()
    assert findable.allergy_status == AllergyStatus.RECORDED
    assert Allergy.objects.get(patient=findable).reaction == "Headache"


def test_an_allergy_without_a_substance_shows_the_error_in_the_form(practice, findable):
    response = signed_in(practice.staff[Role.NURSE]).post(
        f"/patients/{findable.pk}/allergies/",
        {"tab": "problems", "allergy-substance": "", "allergy-category": "food", "allergy-severity": "mild"},
        headers=htmx("chart-body"),
    )
    assert field_error(response, "id_allergy-substance") == "This field is required."
    assert not Allergy.objects.filter(patient=findable).exists()


def test_without_javascript_a_record_action_redirects_back_to_the_tab(practice, findable):
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(f"/patients/{findable.pk}/no-known-allergies/", {"tab": "problems"})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{findable.pk}/problems/"
    findable.refresh_from_db()
    assert findable.allergy_status == AllergyStatus.NONE_KNOWN
    assert "No known allergies" in text_of(client.get(response["Location"]))


def test_deactivating_an_allergy_takes_it_out_of_the_header(practice, findable):
    allergy = AllergyFactory(patient=findable, substance="Droperidol")
    client = signed_in(practice.staff[Role.PRESCRIBER])
    response = client.post(f"/patients/{findable.pk}/allergies/{allergy.pk}/deactivate/",
                           {"tab": "problems"}, headers=htmx("chart-body"))
    allergy.refresh_from_db()
    assert not allergy.is_active
    header = response.content.decode().split('id="chart-header"')[1]
    assert "Droperidol" not in header.split("</section>")[0]


def test_adding_a_condition_from_the_catalogue_and_changing_its_status(practice, findable):
    client = signed_in(practice.staff[Role.PRESCRIBER])
    form = client.get(f"/patients/{findable.pk}/problems/").content.decode()
    assert "Generalised anxiety disorder (F41.1)" in form
    client.post(f"/patients/{findable.pk}/conditions/",
                {"tab": "problems", "condition-catalogue_id": "gad", "condition-note": "Since college"})
    condition = Condition.objects.get(patient=findable)
    assert condition.icd10_code == "F41.1"
    assert condition.note == "Since college"
    client.post(f"/patients/{findable.pk}/conditions/{condition.pk}/status/", {"status": "remission"})
    condition.refresh_from_db()
    assert condition.status == Condition.Status.REMISSION
    assert "Generalised anxiety disorder (in remission)" in text_of(client.get(f"/patients/{findable.pk}/"))


def test_an_administrator_cannot_add_a_problem(practice, findable):
    admin = signed_in(practice.staff[Role.ADMIN])
    response = admin.post(f"/patients/{findable.pk}/conditions/", {"condition-catalogue_id": "gad"})
    assert response.status_code == 403
    assert not Condition.objects.filter(patient=findable).exists()


def test_front_desk_adds_and_resolves_administrative_alerts_from_the_summary(practice, findable):
    desk = signed_in(practice.staff[Role.FRONT_DESK])
    summary = desk.get(f"/patients/{findable.pk}/").content.decode()
    assert '<option value="administrative">Administrative</option>' in summary
    assert '<option value="safety">' not in summary
    desk.post(f"/patients/{findable.pk}/alerts/",
              {"tab": "summary", "alert-category": "administrative", "alert-message": "Interpreter: Tagalog"})
    alert = PatientAlert.objects.get(patient=findable)
    assert "Interpreter: Tagalog" in text_of(desk.get(f"/patients/{findable.pk}/"))
    refused = desk.post(f"/patients/{findable.pk}/alerts/",
                        {"alert-category": "safety", "alert-message": "Should not be allowed"})
    assert refused.status_code == 200
    assert "Select a valid choice" in field_error(refused, "id_alert-category")
    assert PatientAlert.objects.filter(patient=findable).count() == 1
    desk.post(f"/patients/{findable.pk}/alerts/{alert.pk}/resolve/", {"tab": "summary"})
    alert.refresh_from_db()
    assert not alert.is_active


def test_front_desk_cannot_resolve_a_clinical_alert(practice, findable):
    alert = AlertFactory(patient=findable, category=PatientAlert.Category.SAFETY, message="Escort")
    response = signed_in(practice.staff[Role.FRONT_DESK]).post(
        f"/patients/{findable.pk}/alerts/{alert.pk}/resolve/"
    )
    assert response.status_code == 403
    assert "Escort" not in text_of(response)
    alert.refresh_from_db()
    assert alert.is_active

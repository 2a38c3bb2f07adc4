"""Staff management pages: the list, adding with a one-time password, editing and account actions."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketaflow.accounts.models import StaffMember, User
from ketaflow.accounts.roles import Role
from tests.integration.pages import PAGE_TEST_MARKS, field_error, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


def new_staff(practice, **overrides):
    data = {
        "username": "l.okafor", "first_name": "Lena", "last_name": "Okafor",
        "email": "lena.okafor@example.test", "roles": ["nurse"], "credential": "RN",
        "clinic_ids": [str(practice.clinic.pk)], "phone": "(503) 555-0120",
    }
    return data | overrides


def temporary_password(response) -> str:
    match = re.search(r'id="temporary-password">([^<]+)<', response.content.decode())
    assert match, "no one-time password on the page"
    return match.group(1)


def test_the_staff_list_shows_names_roles_credentials_clinics_two_factor_and_status(practice, stranger):
    prescriber = practice.staff[Role.PRESCRIBER]
    prescriber.clinics.add(practice.clinic)
    TOTPDevice.objects.create(user=prescriber.user, name="phone", confirmed=True)
    nurse = practice.staff[Role.NURSE]
    nurse.user.is_active = False
    nurse.user.save()
    response = signed_in(practice.staff[Role.ADMIN]).get("/staff/")
    html = response.content.decode()
    rows = {m.group(1): m.group(0) for m in re.finditer(r'href="/staff/([0-9a-f-]+)/".*?</tr>', html, re.S)}
    prescriber_row = " ".join(re.sub(r"<[^>]+>", " ", rows[str(prescriber.pk)]).split())
    assert "Prescriber" in prescriber_row
    assert "MD" in prescriber_row
    assert practice.clinic.name in prescriber_row
    assert "Enrolled" in prescriber_row and "Active" in prescriber_row
    nurse_row = " ".join(re.sub(r"<[^>]+>", " ", rows[str(nurse.pk)]).split())
    assert "Not enrolled" in nurse_row and "Deactivated" in nurse_row
    assert stranger.staff[Role.OWNER].user.username not in html
    assert "Add staff member" in text_of(response)


def test_the_add_form_has_every_labelled_field_and_role_checkboxes(practice):
    html = signed_in(practice.staff[Role.OWNER]).get("/staff/new/").content.decode()
    for field, label in [("username", "Username"), ("first_name", "First name"), ("last_name", "Last name"),
                         ("email", "Email"), ("licence_number", "Licence number"),
                         ("licence_region", "Licence state or region"), ("dea_number", "DEA number"),
                         ("npi", "NPI"), ("phone", "Phone"), ("credential", "Credential")]:
        assert f'<label for="id_{field}">{label}' in html
    for role in Role:
        assert re.search(rf'value="{role.value}"[^>]*>\s*{re.escape(role.label)}', html.replace("&amp;", "&"))
    assert f'value="{practice.clinic.pk}"' in html
    assert ">Add staff member</button>" in html


def test_adding_staff_shows_a_one_time_password_that_must_be_changed_at_first_sign_in(practice):
    response = signed_in(practice.staff[Role.ADMIN]).post("/staff/new/", new_staff(practice))
    assert response.status_code == 200
    password = temporary_password(response)
    text = text_of(response)
    assert "Lena Okafor, RN is added" in text
    assert "must choose their own password" in text and "two-factor" in text
    staff = StaffMember.objects.get(user__username="l.okafor")
    assert staff.organization_id == practice.org.pk
    assert staff.roles == {Role.NURSE}
    assert staff.phone == "+15035550120"
    assert list(staff.clinics.all()) == [practice.clinic]
    assert staff.user.must_change_password
    assert staff.user.check_password(password)


def test_a_prescriber_without_credential_or_licence_gets_errors_next_to_those_fields(practice):
    response = signed_in(practice.staff[Role.OWNER]).post(
        "/staff/new/", new_staff(practice, roles=["prescriber"], credential="RN", npi="1234567890")
    )
    assert response.status_code == 200
    assert field_error(response, "id_credential") == "A prescriber needs an MD, DO, NP or PA credential."
    assert field_error(response, "id_licence_number") == "A prescriber needs a licence number."
    assert "check digit" in field_error(response, "id_npi")
    assert not User.objects.filter(username="l.okafor").exists()


def test_missing_names_and_roles_are_reported_per_field(practice):
    response = signed_in(practice.staff[Role.OWNER]).post(
        "/staff/new/", new_staff(practice, first_name="", roles=[], email="not-an-email")
    )
    assert field_error(response, "id_first_name") == "This field is required."
    assert field_error(response, "id_email") == "Enter a valid email address."
    assert 'id="id_roles_error"' in response.content.decode()
    assert "Give this person at least one role." in text_of(response)


def test_an_administrator_cannot_grant_the_owner_role(practice):
    response = signed_in(practice.staff[Role.ADMIN]).post("/staff/new/", new_staff(practice, roles=["owner"]))
    assert "Only an owner can grant or remove the owner role." in text_of(response)
    assert not User.objects.filter(username="l.okafor").exists()


def test_editing_staff_saves_roles_and_details(practice):
    nurse = practice.staff[Role.NURSE]
    client = signed_in(practice.staff[Role.OWNER])
    form = client.get(f"/staff/{nurse.pk}/").content.decode()
    assert f'value="{nurse.user.username}"' in form
    data = new_staff(practice, username=nurse.user.username, roles=["nurse", "therapist"],
                     last_name="Okafor-Reyes")
    response = client.post(f"/staff/{nurse.pk}/", data, follow=True)
    assert "Okafor-Reyes" in text_of(response)
    nurse.refresh_from_db()
    assert nurse.roles == {Role.NURSE, Role.THERAPIST}
    assert nurse.user.last_name == "Okafor-Reyes"


def test_deactivating_and_reactivating_a_staff_member(practice):
    nurse = practice.staff[Role.NURSE]
    client = signed_in(practice.staff[Role.OWNER])
    response = client.post(f"/staff/{nurse.pk}/deactivate/", follow=True)
    assert "is deactivated and can no longer sign in" in text_of(response)
    assert "Reactivate" in text_of(response)
    nurse.user.refresh_from_db()
    assert not nurse.user.is_active
    client.post(f"/staff/{nurse.pk}/reactivate/")
    nurse.user.refresh_from_db()
    assert nurse.user.is_active


def test_you_cannot_deactivate_yourself(practice):
    owner = practice.staff[Role.OWNER]
    client = signed_in(owner)
    page = text_of(client.get(f"/staff/{owner.pk}/"))
    assert "You cannot deactivate your own account." in page
    response = client.post(f"/staff/{owner.pk}/deactivate/", follow=True)
    assert "You cannot deactivate your own account." in text_of(response)
    owner.user.refresh_from_db()
    assert owner.user.is_active


def test_resetting_a_password_shows_a_new_one_time_password(practice):
    nurse = practice.staff[Role.NURSE]
    response = signed_in(practice.staff[Role.ADMIN]).post(f"/staff/{nurse.pk}/reset-password/")
    password = temporary_password(response)
    nurse.user.refresh_from_db()
    assert nurse.user.check_password(password)
    assert not nurse.user.check_password("correct-horse-battery")
    assert nurse.user.must_change_password
    username = nurse.user.username
    with_new = Client().post("/account/login/", {"username": username, "password": password})
    assert with_new.status_code == 302
    with_old = Client().post("/account/login/", {"username": username, "password": "correct-horse-battery"})
    assert with_old.status_code == 200
    assert "Please enter a correct username and password" in text_of(with_old)


def test_resetting_two_factor_removes_the_authenticator(practice):
    nurse = practice.staff[Role.NURSE]
    TOTPDevice.objects.create(user=nurse.user, name="phone", confirmed=True)
    response = signed_in(practice.staff[Role.ADMIN]).post(f"/staff/{nurse.pk}/reset-two-factor/", follow=True)
    assert "two-factor sign-in is reset" in text_of(response)
    assert not TOTPDevice.objects.filter(user=nurse.user).exists()


@pytest.mark.parametrize("role", [Role.PRESCRIBER, Role.NURSE, Role.THERAPIST, Role.FRONT_DESK])
def test_roles_without_staff_management_get_403_and_no_staff_link(practice, role):
    client = signed_in(practice.staff[role])
    assert client.get("/staff/").status_code == 403
    assert client.post("/staff/new/", new_staff(practice)).status_code == 403
    assert not User.objects.filter(username="l.okafor").exists()
    assert 'href="/staff/"' not in client.get("/").content.decode()

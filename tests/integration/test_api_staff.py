"""Staff management over the API: who may manage staff, credentials, roles and the owner rule."""

from __future__ import annotations

import uuid

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketaflow.accounts.models import StaffMember, User
from ketaflow.accounts.roles import Role
from ketaflow.accounts.services import issue_api_token
from tests.integration.test_api_support import API_TEST_MARKS, Api, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS


def new_member(**overrides):
    body = {
        "username": "ines.okafor",
        "first_name": "Ines",
        "last_name": "Okafor",
        "email": "ines.okafor@example.test",
        "roles": ["nurse"],
        "credential": "RN",
        "phone": "503 555 0150",
    }
    return body | overrides


@pytest.fixture
def admin(practice):
    return api_as(practice.staff[Role.ADMIN])


@pytest.fixture
def owner(practice):
    return api_as(practice.staff[Role.OWNER])


def test_an_admin_lists_the_organizations_staff(practice, admin, stranger):
    response = admin.get("/staff", {"page_size": 50})
    assert response.status_code == 200
    listed = {s["id"] for s in response.json()["items"]}
    assert listed == {str(s.pk) for s in practice.staff.values()}
    nurse = next(s for s in response.json()["items"] if s["id"] == str(practice.staff[Role.NURSE].pk))
    assert nurse["roles"] == ["nurse"] and nurse["is_active"] is True
    assert nurse["username"] == practice.staff[Role.NURSE].user.username


def test_an_admin_adds_a_nurse_who_gets_a_one_time_password(practice, admin):
    response = admin.post("/staff", new_member(clinic_ids=[str(practice.clinic.pk)]))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert len(body["one_time_password"]) >= 16
    assert body["staff"]["roles"] == ["nurse"] and body["staff"]["phone"] == "+15035550150"
    assert body["staff"]["clinics"] == [{"id": str(practice.clinic.pk), "name": practice.clinic.name}]
    user = User.objects.get(username="ines.okafor")
    assert user.organization_id == practice.org.pk and user.must_change_password
    assert user.check_password(body["one_time_password"])
    [event] = audit_rows(practice.org.pk, action="create", object_type="StaffMember")
    assert event.object_id == body["staff"]["id"]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"roles": ["prescriber"], "credential": "RN"}, {"credential", "licence_number"}),
        ({"dea_number": "AB1234567"}, {"dea_number"}),
        ({"npi": "123"}, {"npi"}),
        ({"roles": ["wizard"]}, {"roles"}),
        ({"roles": []}, {"roles"}),
        ({"clinic_ids": [str(uuid.uuid4())]}, {"clinic_ids"}),
        ({"clinic_ids": ["not-an-id"]}, {"clinic_ids[0]"}),
        ({"email": "nope"}, {"email"}),
        ({"password": "letmein"}, {"password"}),
    ],
)
def test_bad_staff_input_is_refused_naming_the_fields(practice, admin, change, fields):
    count = StaffMember.objects.count()
    response = admin.post("/staff", new_member(**change))
    assert response.status_code == 422
    assert fields <= set(field_errors(response)), response.json()
    assert StaffMember.objects.count() == count
    assert not User.objects.filter(username="ines.okafor").exists()


def test_a_taken_username_is_refused(practice, admin):
    taken = practice.staff[Role.NURSE].user.username
    response = admin.post("/staff", new_member(username=taken))
    assert response.status_code == 422 and "taken" in field_errors(response)["username"]


@pytest.mark.parametrize("role", [Role.NURSE, Role.PRESCRIBER, Role.FRONT_DESK, Role.THERAPIST])
def test_clinical_and_front_desk_roles_cannot_manage_staff(practice, role):
    api = api_as(practice.staff[role])
    nurse_id = practice.staff[Role.NURSE].pk
    assert api.get("/staff").status_code == 403
    assert api.get(f"/staff/{nurse_id}").status_code == 403
    response = api.post("/staff", new_member())
    assert response.status_code == 403 and "staff.manage" in field_errors(response)[None]
    assert api.patch(f"/staff/{nurse_id}", {"first_name": "Changed"}).status_code == 403
    assert not User.objects.filter(username="ines.okafor").exists()
    assert User.objects.get(pk=practice.staff[Role.NURSE].user_id).first_name != "Changed"


def test_only_an_owner_can_grant_the_owner_role(practice, admin, owner):
    response = admin.post("/staff", new_member(roles=["owner"]))
    assert response.status_code == 422 and "owner" in field_errors(response)["roles"]
    nurse = practice.staff[Role.NURSE]
    response = admin.patch(f"/staff/{nurse.pk}", {"roles": ["nurse", "owner"]})
    assert response.status_code == 422 and "roles" in field_errors(response)
    assert StaffMember.objects.get(pk=nurse.pk).roles == {Role.NURSE}

    response = owner.patch(f"/staff/{nurse.pk}", {"roles": ["nurse", "owner"]})
    assert response.status_code == 200 and response.json()["roles"] == ["nurse", "owner"]
    response = owner.post("/staff", new_member(roles=["owner"]))
    assert response.status_code == 201 and response.json()["staff"]["roles"] == ["owner"]


def test_patching_a_member_changes_only_what_was_sent(practice, admin):
    nurse = practice.staff[Role.NURSE]
    response = admin.patch(f"/staff/{nurse.pk}", {"last_name": "Achterberg", "licence_number": "RN-5521"})
    assert response.status_code == 200, response.json()
    assert (response.json()["last_name"], response.json()["licence_number"]) == ("Achterberg", "RN-5521")
    assert response.json()["username"] == nurse.user.username
    [event] = audit_rows(practice.org.pk, action="update", object_type="StaffMember")
    assert event.detail == {"fields": ["last_name", "licence_number"]}


def test_deactivating_a_member_blocks_their_token_and_they_can_be_reactivated(practice, admin):
    nurse = practice.staff[Role.NURSE]
    token = issue_api_token(nurse.user, "tablet")
    response = admin.post(f"/staff/{nurse.pk}/deactivate")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert Api(token).get("/me").status_code == 401
    listed = {s["id"] for s in admin.get("/staff").json()["items"]}
    assert str(nurse.pk) not in listed
    assert str(nurse.pk) in {
        s["id"] for s in admin.get("/staff", {"include_inactive": "true"}).json()["items"]
    }
    response = admin.post(f"/staff/{nurse.pk}/activate")
    assert response.status_code == 200 and response.json()["is_active"] is True


def test_nobody_can_deactivate_themselves(practice, admin):
    response = admin.post(f"/staff/{practice.staff[Role.ADMIN].pk}/deactivate")
    assert response.status_code == 422 and None in field_errors(response)
    assert User.objects.get(pk=practice.staff[Role.ADMIN].user_id).is_active


def test_resetting_two_factor_removes_the_authenticator(practice, admin):
    nurse = practice.staff[Role.NURSE]
    TOTPDevice.objects.create(user=nurse.user, name="phone", confirmed=True)
    response = admin.post(f"/staff/{nurse.pk}/reset-two-factor")
    assert response.status_code == 200 and response.json()["id"] == str(nurse.pk)
    assert not TOTPDevice.objects.filter(user=nurse.user).exists()
    assert [e.action for e in audit_rows(practice.org.pk, object_type="StaffMember")] == ["two_factor"]

"""Who may call the API: bearer tokens and the browser session, scoped like the staff pages."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketaflow.accounts.models import ApiToken
from ketaflow.accounts.roles import Permission, Role
from ketaflow.accounts.services import issue_api_token, set_staff_active
from ketaflow.patients.models import Patient
from tests.factories import actor_of
from tests.integration.test_api_support import API_TEST_MARKS, V1, Api, api_as, field_errors, patient_body

pytestmark = API_TEST_MARKS

CSRF_SECRET = "a" * 32  # an unmasked CSRF secret: the cookie and the header must agree


def test_a_valid_token_identifies_the_staff_member_and_their_organization(practice):
    nurse = practice.staff[Role.NURSE]
    response = api_as(nurse).get("/me")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == nurse.user.username
    assert body["organization"] == {"id": str(practice.org.pk), "name": practice.org.name}
    assert body["roles"] == ["nurse"]
    assert Permission.VIEW_CLINICAL.value in body["permissions"]
    assert Permission.MANAGE_STAFF.value not in body["permissions"]
    assert body["via"] == "api"


def test_a_request_without_credentials_gets_401_with_the_error_body(practice):
    response = Api().get("/patients")
    assert response.status_code == 401
    assert field_errors(response) == {None: response.json()["errors"][0]["message"]}
    assert "Bearer" in response.json()["errors"][0]["message"]


def test_an_unknown_token_gets_401(practice):
    response = Api("kf_not-a-token-anyone-was-given").get("/patients")
    assert response.status_code == 401
    assert None in field_errors(response)


def test_a_malformed_authorization_header_gets_401(practice):
    client = Client(headers={"Authorization": "Basic dXNlcjpwYXNz"})
    response = client.get(f"{V1}/me")
    assert response.status_code == 401
    assert None in field_errors(response) and "username" not in response.content.decode()


def test_a_revoked_token_gets_401(practice):
    nurse = practice.staff[Role.NURSE]
    token = issue_api_token(nurse.user, "laptop")
    assert Api(token).get("/me").status_code == 200
    ApiToken.objects.filter(user=nurse.user).update(revoked_at=timezone.now())
    assert Api(token).get("/me").status_code == 401


def test_a_deactivated_users_token_gets_401(practice):
    nurse = practice.staff[Role.NURSE]
    token = issue_api_token(nurse.user, "laptop")
    nurse.user.is_active = False
    nurse.user.save(update_fields=["is_active"])
    response = Api(token).get("/me")
    assert response.status_code == 401
    assert None in field_errors(response)


def test_deactivating_a_staff_member_revokes_their_tokens(practice):
    nurse = practice.staff[Role.NURSE]
    token = issue_api_token(nurse.user, "laptop")
    set_staff_active(actor_of(practice.staff[Role.OWNER]), nurse.pk, False)
    set_staff_active(actor_of(practice.staff[Role.OWNER]), nurse.pk, True)
    assert Api(token).get("/me").status_code == 401


def test_a_token_call_is_audited_as_coming_from_the_api(practice):
    nurse = practice.staff[Role.NURSE]
    api_as(nurse).get(f"/patients/{practice.patient.pk}")
    from ketaflow.audit.models import AuditEvent

    event = AuditEvent.objects.filter(organization=practice.org, action="read").latest("seq")
    assert (event.via, event.username, event.object_id) == (
        "api",
        nurse.user.username,
        str(practice.patient.pk),
    )
    assert event.ip_address == "127.0.0.1"


def _session(staff, *, verified: bool, enforce_csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(staff.user)
    if verified:
        device = TOTPDevice.objects.create(user=staff.user, name="phone", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def test_a_session_without_the_required_second_factor_gets_401(practice):
    nurse = practice.staff[Role.NURSE]
    nurse.user.two_factor_exempt = False
    nurse.user.save(update_fields=["two_factor_exempt"])
    response = _session(nurse, verified=False).get(f"{V1}/me")
    assert response.status_code == 401
    assert "second factor" in field_errors(response)[None]


def test_a_session_with_a_verified_second_factor_is_accepted(practice):
    nurse = practice.staff[Role.NURSE]
    nurse.user.two_factor_exempt = False
    nurse.user.save(update_fields=["two_factor_exempt"])
    response = _session(nurse, verified=True).get(f"{V1}/me")
    assert response.status_code == 200
    assert response.json()["username"] == nurse.user.username
    assert response.json()["via"] == "web"


def test_a_session_that_must_change_its_password_gets_401(practice):
    nurse = practice.staff[Role.NURSE]
    nurse.user.must_change_password = True
    nurse.user.save(update_fields=["must_change_password"])
    response = _session(nurse, verified=False).get(f"{V1}/me")
    assert response.status_code == 401
    assert "password" in field_errors(response)[None]


def test_a_session_post_without_the_csrf_token_is_refused_and_writes_nothing(practice):
    desk = practice.staff[Role.FRONT_DESK]
    client = _session(desk, verified=False, enforce_csrf=True)
    before = Patient.objects.count()
    response = client.post(f"{V1}/patients", patient_body(practice.clinic), content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in field_errors(response)[None]
    assert Patient.objects.count() == before


def test_a_session_post_with_the_csrf_token_is_accepted(practice):
    desk = practice.staff[Role.FRONT_DESK]
    client = _session(desk, verified=False, enforce_csrf=True)
    client.cookies["csrftoken"] = CSRF_SECRET
    response = client.post(
        f"{V1}/patients",
        patient_body(practice.clinic),
        content_type="application/json",
        headers={"X-CSRFToken": CSRF_SECRET},
    )
    assert response.status_code == 201, response.json()
    assert Patient.objects.filter(pk=response.json()["id"], organization=practice.org).exists()


def test_a_session_get_needs_no_csrf_token(practice):
    client = _session(practice.staff[Role.NURSE], verified=False, enforce_csrf=True)
    response = client.get(f"{V1}/patients")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [str(practice.patient.pk)]


def test_a_bad_token_is_not_rescued_by_a_valid_session(practice):
    client = _session(practice.staff[Role.NURSE], verified=False)
    response = client.get(f"{V1}/me", headers={"Authorization": "Bearer kf_wrong"})
    assert response.status_code == 401
    assert None in field_errors(response)


def test_a_signed_in_user_without_an_organization_gets_403(practice, django_user_model):
    operator = django_user_model.objects.create_user("operator", password="x" * 16, two_factor_exempt=True)
    client = Client()
    client.force_login(operator)
    response = client.get(f"{V1}/patients")
    assert response.status_code == 403
    assert field_errors(response)[None]

"""Staff management and clinic settings through the services: roles, credentials, tenancy."""

from __future__ import annotations

from datetime import time

import pytest

from ketaflow.accounts.models import ApiToken, User
from ketaflow.accounts.roles import Role
from ketaflow.accounts.services import (
    actor_for,
    create_staff,
    issue_api_token,
    reset_password,
    set_staff_active,
    update_staff,
    user_for_token,
)
from ketaflow.clinics.models import OpeningHours
from ketaflow.clinics.services import create_clinic, save_room, set_opening_hours, update_clinic
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import actor_of


def nurse_data(practice, **overrides):
    data = {
        "username": "Rosa.Nurse",
        "first_name": "Rosa",
        "last_name": "Delacroix",
        "email": "rosa@example.org",
        "roles": ["nurse"],
        "credential": "RN",
        "clinic_ids": [practice.clinic.pk],
        "phone": "303 555 0111",
    }
    data.update(overrides)
    return data


def fields_of(exc):
    return {e.field for e in exc.value.errors}


def test_an_owner_adds_a_nurse_who_must_change_password_and_set_up_two_factor(practice):
    staff, password = create_staff(actor_of(practice.staff["owner"]), nurse_data(practice))
    user = staff.user
    assert user.username == "rosa.nurse" and user.organization_id == practice.org.pk
    assert user.must_change_password and not user.two_factor_exempt
    assert user.check_password(password) and len(password) == 19
    assert staff.roles == {Role.NURSE} and list(staff.clinics.all()) == [practice.clinic]
    assert staff.phone == "+13035550111"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"roles": []}, "roles"),
        ({"roles": ["wizard"]}, "roles"),
        ({"email": "rosa"}, "email"),
        ({"username": "has space"}, "username"),
        ({"phone": "12"}, "phone"),
        ({"roles": ["prescriber"], "credential": "RN", "licence_number": "X1"}, "credential"),
        ({"roles": ["prescriber"], "credential": "NP", "licence_number": ""}, "licence_number"),
        ({"dea_number": "AB1234564"}, "dea_number"),
        ({"npi": "1234567890"}, "npi"),
    ],
)
def test_bad_staff_input_is_refused_naming_the_field(practice, overrides, field):
    before = User.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        create_staff(actor_of(practice.staff["owner"]), nurse_data(practice, **overrides))
    assert field in fields_of(caught)
    assert User.objects.count() == before


def test_another_organizations_clinic_cannot_be_assigned(practice, stranger):
    with pytest.raises(ValidationFailed) as caught:
        create_staff(actor_of(practice.staff["owner"]), nurse_data(practice, clinic_ids=[stranger.clinic.pk]))
    assert fields_of(caught) == {"clinic_ids"}


def test_a_prescriber_is_saved_with_licence_dea_and_npi(practice):
    staff, _ = create_staff(
        actor_of(practice.staff["admin"]),
        nurse_data(
            practice,
            roles=["prescriber"],
            credential="NP",
            licence_number="NP-778",
            licence_region="OR",
            dea_number="AB1234563",
            npi="1234567893",
        ),
    )
    assert (staff.credential, staff.dea_number, staff.npi) == ("NP", "AB1234563", "1234567893")


def test_only_an_owner_may_grant_the_owner_role_and_nurses_cannot_manage_staff(practice):
    with pytest.raises(ValidationFailed) as caught:
        create_staff(actor_of(practice.staff["admin"]), nurse_data(practice, roles=["owner"]))
    assert fields_of(caught) == {"roles"}
    with pytest.raises(Forbidden):
        create_staff(actor_of(practice.staff["nurse"]), nurse_data(practice))


def test_the_last_owner_cannot_be_demoted_or_deactivated(practice):
    owner = practice.staff["owner"]
    other = actor_of(practice.staff["admin"])
    with pytest.raises(ValidationFailed):
        update_staff(actor_of(owner), owner.pk, {"roles": ["admin"]})
    with pytest.raises(ValidationFailed):
        set_staff_active(other, owner.pk, False)


def test_deactivating_staff_revokes_their_api_tokens(practice):
    nurse = practice.staff["nurse"]
    token = issue_api_token(nurse.user, "tablet")
    assert user_for_token(token) == nurse.user
    set_staff_active(actor_of(practice.staff["owner"]), nurse.pk, False)
    assert user_for_token(token) is None
    assert ApiToken.objects.get(user=nurse.user).revoked_at is not None
    assert actor_for(User.objects.get(pk=nurse.user_id)) is None


def test_tokens_are_stored_only_as_hashes(practice):
    raw = issue_api_token(practice.staff["nurse"].user)
    stored = ApiToken.objects.get(user=practice.staff["nurse"].user)
    assert raw.startswith("kf_") and raw not in (stored.key_hash, stored.key_hint)
    assert user_for_token(raw + "x") is None


def test_a_password_reset_hands_over_a_new_one_time_password(practice):
    nurse = practice.staff["nurse"]
    password = reset_password(actor_of(practice.staff["owner"]), nurse.pk)
    nurse.user.refresh_from_db()
    assert nurse.user.check_password(password) and nurse.user.must_change_password


def test_another_organizations_staff_is_not_found(practice, stranger):
    with pytest.raises(NotFound):
        update_staff(actor_of(practice.staff["owner"]), stranger.staff["nurse"].pk, {"first_name": "X"})


def test_clinics_validate_time_zone_phone_and_unique_name(practice):
    owner = actor_of(practice.staff["owner"])
    with pytest.raises(ValidationFailed) as caught:
        create_clinic(owner, {"name": practice.clinic.name.upper(), "timezone": "Mars/Olympus", "phone": "1"})
    assert fields_of(caught) == {"timezone", "phone"}
    with pytest.raises(ValidationFailed) as caught:
        create_clinic(owner, {"name": practice.clinic.name.upper(), "timezone": "America/Denver"})
    assert fields_of(caught) == {"name"}
    clinic = create_clinic(
        owner, {"name": "Eastside", "timezone": "America/New_York", "phone": "212 555 0100"}
    )
    assert clinic.phone == "+12125550100"
    with pytest.raises(Forbidden):
        update_clinic(actor_of(practice.staff["nurse"]), clinic.pk, {"name": "Mine"})


def test_opening_hours_replace_the_week_and_refuse_overlaps(practice):
    owner = actor_of(practice.staff["owner"])
    set_opening_hours(owner, practice.clinic.pk, [(0, time(8), time(12)), (0, time(13), time(17))])
    assert OpeningHours.objects.filter(clinic=practice.clinic).count() == 2
    with pytest.raises(ValidationFailed) as caught:
        set_opening_hours(owner, practice.clinic.pk, [(1, time(8), time(12)), (1, time(11), time(15))])
    assert fields_of(caught) == {"hours[1].opens"}
    assert OpeningHours.objects.filter(clinic=practice.clinic).count() == 2


def test_rooms_belong_to_one_clinic_and_names_are_unique_there(practice, stranger):
    owner = actor_of(practice.staff["owner"])
    chair = save_room(owner, practice.clinic.pk, {"name": "Chair 1", "kind": "chair"})
    assert chair.organization_id == practice.org.pk
    with pytest.raises(ValidationFailed):
        save_room(owner, practice.clinic.pk, {"name": "chair 1", "kind": "chair"})
    with pytest.raises(NotFound):
        save_room(owner, stranger.clinic.pk, {"name": "Chair 9", "kind": "chair"})

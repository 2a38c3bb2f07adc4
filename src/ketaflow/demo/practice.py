"""The demo practice's organization, clinics, rooms, opening hours and staff, through the services.

There are only a handful of these rows, so they go through the same services as the pages (each
audited); only the patients are bulk-loaded. Prescribers carry synthetic DEA numbers and NPIs that
pass the check-digit rules in `accounts.credentials` but were made up from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.credentials import dea_check_digit, npi_check_digit
from ketaflow.accounts.models import StaffMember, User
from ketaflow.accounts.roles import Credential, Role
from ketaflow.accounts.services import create_staff
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record_many
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.clinics.services import (
    create_clinic,
    create_organization,
    save_room,
    set_opening_hours,
)

from .pools import Pools
from .regions import REGIONS, Region

ORGANIZATION_NAME = "Harbor Ketamine Collective (demo)"
ORGANIZATION_SLUG = "harbor-ketamine-demo"
STAFF_EMAIL_DOMAIN = "harbor-ketamine.example.com"


@dataclass(frozen=True)
class DemoAccount:
    """One demo login: who it is, what it may do, and which clinics it works in."""

    username: str
    roles: tuple[Role, ...]
    credential: str
    description: str
    regions: tuple[int, ...]  # indexes into REGIONS
    given_kind: str = "female"


ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("owner", (Role.OWNER, Role.PRESCRIBER), Credential.MD,
                "Owner and prescriber (MD) — sees everything", (0, 1)),
    DemoAccount("admin", (Role.ADMIN,), "",
                "Practice administrator — staff, clinics, schedule, audit; no clinical chart",
                (0, 1), "male"),
    DemoAccount("np", (Role.PRESCRIBER,), Credential.NP,
                "Prescriber (psychiatric nurse practitioner, NP) — Portland", (0,)),
    DemoAccount("pa", (Role.PRESCRIBER,), Credential.PA,
                "Prescriber (physician assistant, PA) — Denver", (1,), "male"),
    DemoAccount("nurse", (Role.NURSE,), Credential.RN,
                "Infusion nurse (RN) — Portland; charts vitals and sessions", (0,)),
    DemoAccount("nurse2", (Role.NURSE,), Credential.CRNA,
                "Nurse anesthetist (CRNA) — Denver", (1,), "male"),
    DemoAccount("therapist", (Role.THERAPIST,), Credential.LCSW,
                "Therapist / integration guide (LCSW) — both clinics", (0, 1)),
    DemoAccount("frontdesk", (Role.FRONT_DESK,), "",
                "Front desk — demographics and schedule, nothing clinical", (0, 1)),
)

# A mid-level practitioner's DEA registration starts with M; a physician's with A, B, F or G.
DEA_FIRST_LETTER = {Credential.MD: "F", Credential.DO: "F", Credential.NP: "M", Credential.PA: "M"}


def synthetic_dea(rng: random.Random, credential: str, family_name: str) -> str:
    """A DEA number whose form and check digit are valid; second letter is the surname's initial."""
    digits = "".join(str(rng.randint(0, 9)) for _ in range(6))
    initial = family_name[:1].upper() if family_name[:1].isalpha() else "9"
    return f"{DEA_FIRST_LETTER[Credential(credential)]}{initial}{digits}{dea_check_digit(digits)}"


def synthetic_npi(rng: random.Random) -> str:
    """A ten-digit NPI (individual NPIs start with 1) with a valid Luhn check digit."""
    nine = "1" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return f"{nine}{npi_check_digit(nine)}"


def create_practice_organization() -> Organization:
    return create_organization(ORGANIZATION_NAME, slug=ORGANIZATION_SLUG)


def _create_clinic(actor: Actor, region: Region, pools: Pools, rng: random.Random) -> Clinic:
    clinic = create_clinic(actor, {
        "name": region.clinic_name, "address_line1": region.address_line1,
        "address_line2": region.address_line2, "city": region.city, "region": region.state,
        "postal_code": region.postal_code, "timezone": region.timezone,
        "phone": next(p for p in pools.regions[REGIONS.index(region)].phones if p.endswith("0100")),
    })
    set_opening_hours(actor, clinic.pk, region.hours)
    rooms = [(f"Consult {n}", "consult", "") for n in range(1, region.consult_rooms + 1)]
    rooms += [(f"Treatment room {chr(64 + n)}", "treatment", "IM and esketamine (Spravato) observation")
              for n in range(1, region.treatment_rooms + 1)]
    chair_notes = ("Window side", "Quiet corner", "Near the nurses' station", "")
    rooms += [(f"Chair {n}", "chair", rng.choice(chair_notes)) for n in range(1, region.chairs + 1)]
    rooms.append(("Recovery bay", "recovery", "Two recliners; discharge checks here"))
    for name, kind, notes in rooms:
        save_room(actor, clinic.pk, {"name": name, "kind": kind, "notes": notes})
    return clinic


def create_clinics(actor: Actor, pools: Pools, seed: int) -> list[Clinic]:
    """One clinic per region, each with its address, time zone, week and rooms."""
    rng = random.Random(f"ketaflow-demo-clinics:{seed}")
    return [_create_clinic(actor, region, pools, rng) for region in REGIONS]


def create_demo_staff(actor: Actor, clinics: list[Clinic], pools: Pools, seed: int,
                      password: str) -> list[StaffMember]:
    """Every demo account, exempt from two-factor (honoured only outside production)."""
    rng = random.Random(f"ketaflow-demo-staff:{seed}")
    staff: list[StaffMember] = []
    for account in ACCOUNTS:
        family = pools.family.pick(rng)
        prescriber = Role.PRESCRIBER in account.roles
        licensed = bool(account.credential)
        has_npi = prescriber or account.credential in {Credential.RN, Credential.CRNA}
        state = REGIONS[account.regions[0]].licence_state
        data = {
            "username": account.username, "first_name": pools.given(rng, account.given_kind),
            "last_name": family, "email": f"{account.username}@{STAFF_EMAIL_DOMAIN}",
            "roles": [r.value for r in account.roles], "credential": account.credential,
            "licence_number": f"{account.credential}-{rng.randint(10000, 99999)}" if licensed else "",
            "licence_region": state if licensed else "",
            "dea_number": synthetic_dea(rng, account.credential, family) if prescriber else "",
            "npi": synthetic_npi(rng) if has_npi else "",
            "phone": rng.choice(pools.regions[account.regions[0]].phones),
            "clinic_ids": [clinics[i].pk for i in account.regions],
        }
        member, _ = create_staff(actor, data, password=password)
        staff.append(member)
    users = [member.user_id for member in staff]
    User.objects.filter(pk__in=users).update(two_factor_exempt=True)
    record_many(actor, [Entry(Action.UPDATE, "User", str(pk), detail={"fields": ["two_factor_exempt"]})
                        for pk in users])
    return staff

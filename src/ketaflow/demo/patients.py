"""Synthetic patients as plain values, one after another from a seeded `random.Random`.

No database here: `PatientGenerator` yields `SyntheticPatient` values whose `fields` are exactly
what the registry's own rules (`patients.fields.clean_patient_fields`) accept unchanged, so the
loader only has to number, audit and bulk-insert them. The same seed, pools and day give the same
patients in the same order, whatever the batch size.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .chart import ARCHIVE_REASONS, ChartDecks, Deck, draw_alerts, draw_allergies, draw_conditions
from .pools import Pools, RegionPools, street_address

AGE_BANDS = {"adolescent": 1, "adult": 33, "older": 6}  # per 40: 2.5% under 18, 15% 65 and over
CLINIC_SHARE = (0.55, 0.45)  # Portland, Denver
NICKNAMES = {
    "Elizabeth": "Liz", "Katherine": "Kate", "Jennifer": "Jen", "Margaret": "Maggie",
    "Patricia": "Trish", "Rebecca": "Becky", "Samantha": "Sam", "Alexandra": "Alex",
    "Victoria": "Tori", "Christina": "Tina", "William": "Will", "Robert": "Bob", "Michael": "Mike",
    "Christopher": "Chris", "Jonathan": "Jon", "Benjamin": "Ben", "Nicholas": "Nick",
    "Matthew": "Matt", "Daniel": "Dan", "Joseph": "Joe", "Anthony": "Tony", "Richard": "Rick",
    "Timothy": "Tim", "Zachary": "Zach", "Alexander": "Alex", "Thomas": "Tom", "James": "Jim",
}
SELF_DESCRIBED = ("Genderqueer", "Agender", "Genderfluid", "Two-Spirit")
PRONOUNS = {"woman": "she/her", "trans_woman": "she/her", "man": "he/him", "trans_man": "he/him",
            "self_described": "they/them"}
NON_BINARY_PRONOUNS = ("they/them", "they/them", "she/they", "he/they")
NAME_KIND = {"woman": "female", "trans_woman": "female", "man": "male", "trans_man": "male"}
RELATIONSHIPS = ("Spouse", "Spouse", "Partner", "Parent", "Sibling", "Friend")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
CONTACT_WEIGHTS = {"sms": 45, "phone": 30, "email": 25}


@dataclass(frozen=True)
class SyntheticPatient:
    """One patient: registry `fields` plus the chart rows, as plain values."""

    fields: dict[str, Any]
    allergy_status: str
    conditions: list[dict[str, object]] = field(default_factory=list)
    allergies: list[dict[str, object]] = field(default_factory=list)
    alerts: list[dict[str, object]] = field(default_factory=list)
    archived_reason: str = ""


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def birth_date(rng: random.Random, age: int, today: date) -> date:
    """A birth date on which someone is exactly `age` today."""
    latest = years_before(today, age)
    earliest = years_before(today, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randint(0, (latest - earliest).days))


def ascii_word(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum()).lower()


class PatientGenerator:
    """Yields synthetic patients for a practice whose clinics are `clinic_ids` (one per region)."""

    def __init__(self, seed: int, pools: Pools, clinic_ids: Sequence[uuid.UUID], today: date) -> None:
        if len(clinic_ids) != len(pools.regions):
            raise ValueError("one clinic per region of the pools")
        self.rng = random.Random(f"ketaflow-demo-patients:{seed}")
        self.pools = pools
        self.clinic_ids = tuple(clinic_ids)
        self.today = today
        self.ages = Deck(self.rng, AGE_BANDS)
        self.decks = ChartDecks.new(self.rng)

    def __iter__(self) -> Iterator[SyntheticPatient]:
        return self

    def _age(self) -> int:
        band = self.ages.draw()
        if band == "adolescent":
            return self.rng.randint(13, 17)
        if band == "older":
            return min(95, 65 + int(self.rng.expovariate(1 / 7)))
        return max(18, min(64, round(self.rng.triangular(18, 64, 38))))

    def _identity(self) -> dict[str, str]:
        rng = self.rng
        sex = rng.choices(("female", "male", "intersex", "unknown"), (60, 37.5, 0.5, 2))[0]
        if sex in {"female", "male"}:
            same = "woman" if sex == "female" else "man"
            other = "trans_man" if sex == "female" else "trans_woman"
            gender = rng.choices((same, "non_binary", other, "undisclosed", ""), (92, 3, 1.5, 1.5, 2))[0]
        else:
            gender = rng.choice(("woman", "man", "non_binary", "self_described"))
        if gender == "non_binary":
            pronouns = rng.choice(NON_BINARY_PRONOUNS)
        elif gender in {"woman", "man"} and rng.random() < 0.2:
            pronouns = ""  # not asked, or left blank
        else:
            pronouns = PRONOUNS.get(gender, "")
        text = rng.choice(SELF_DESCRIBED) if gender == "self_described" else ""
        return {"sex_at_birth": sex, "gender_identity": gender, "gender_identity_text": text,
                "pronouns": pronouns}

    def _names(self, identity: dict[str, str]) -> dict[str, str]:
        rng, pools = self.rng, self.pools
        gender, sex = identity["gender_identity"], identity["sex_at_birth"]
        lived = NAME_KIND.get(gender, "")
        if not lived:
            nonbinary = gender in {"non_binary", "self_described"} and rng.random() < 0.5
            lived = "nonbinary" if nonbinary else rng.choice(("female", "male"))
        legal_kind = sex if gender in {"trans_woman", "trans_man"} and rng.random() < 0.4 else lived
        given = pools.given(rng, legal_kind)
        middle = pools.given(rng, legal_kind) if rng.random() < 0.6 else ""
        preferred = ""
        if legal_kind != lived:
            preferred = pools.given(rng, lived)
        elif rng.random() < 0.12:
            preferred = NICKNAMES.get(given) or middle or ""
        return {"legal_given_name": given, "legal_middle_name": middle,
                "legal_family_name": pools.family.pick(rng), "preferred_name": preferred}

    def _contact(self, names: dict[str, str], local: RegionPools, age: int) -> dict[str, str]:
        rng, pools = self.rng, self.pools
        mobile = ""
        if rng.random() < 0.97:
            mobile = rng.choice(local.phones if rng.random() < 0.85 else pools.other_phones)
        home = rng.choice(local.phones) if rng.random() < (0.45 if age >= 65 else 0.15) else ""
        email = ""
        if rng.random() < (0.7 if age >= 75 else 0.9):
            given, family = ascii_word(names["legal_given_name"]), ascii_word(names["legal_family_name"])
            local_part = rng.choice((
                f"{given}.{family}", f"{given[0]}{family}", f"{family}.{given}{rng.randint(1, 99)}",
                f"{given}{rng.randint(70, 2009)}",
            ))
            email = f"{local_part}@{rng.choice(EMAIL_DOMAINS)}"
        methods = [m for m, ok in (("sms", mobile), ("phone", mobile or home), ("email", email)) if ok]
        preferred = rng.choices(methods, [CONTACT_WEIGHTS[m] for m in methods])[0] if methods else "phone"
        return {"phone_mobile": mobile, "phone_home": home, "email": email, "preferred_contact": preferred}

    def _address(self, local: RegionPools) -> dict[str, str]:
        rng = self.rng
        if rng.random() < 0.03:
            return {}
        towns = local.region.towns
        town = towns[0] if rng.random() < 0.4 else rng.choice(towns)
        line2 = ""
        if rng.random() < 0.25:
            line2 = rng.choice((f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}",
                                f"Unit {rng.randint(100, 499)}"))
        return {"address_line1": street_address(rng, self.pools.streets), "address_line2": line2,
                "city": town.city, "region": town.state, "postal_code": rng.choice(town.zip_codes)}

    def _people(self, names: dict[str, str], local: RegionPools, age: int) -> dict[str, str]:
        rng, pools = self.rng, self.pools
        people: dict[str, str] = {}
        if age < 18 or rng.random() < 0.9:
            relationship = rng.choice(("Parent", "Parent", "Guardian")) if age < 18 else rng.choice(
                (*RELATIONSHIPS, "Adult child") if age >= 45 else RELATIONSHIPS)
            family = names["legal_family_name"] if relationship in {"Parent", "Adult child"} or (
                relationship == "Spouse" and rng.random() < 0.6) else pools.family.pick(rng)
            given = pools.given(rng, rng.choice(("female", "male")))
            people |= {"emergency_contact_name": f"{given} {family}",
                       "emergency_contact_relationship": relationship,
                       "emergency_contact_phone": rng.choice(local.phones)}
        if rng.random() < 0.85:
            pharmacy = rng.choice(local.pharmacies)
            people |= {"pharmacy_name": pharmacy.name, "pharmacy_phone": pharmacy.phone,
                       "pharmacy_address": pharmacy.address}
        if rng.random() < 0.8:
            pcp = rng.choice(local.primary_care)
            people |= {"primary_care_name": pcp.name, "primary_care_practice": pcp.practice,
                       "primary_care_phone": pcp.phone}
        if rng.random() < 0.65:
            referrer = rng.choice(local.referrers)
            people |= {"referrer_name": referrer.name, "referrer_practice": referrer.practice,
                       "referrer_phone": referrer.phone}
        return people

    def __next__(self) -> SyntheticPatient:
        rng = self.rng
        region_index = 0 if rng.random() < CLINIC_SHARE[0] else 1
        local = self.pools.regions[region_index]
        age = self._age()
        identity = self._identity()
        names = self._names(identity)
        fields: dict[str, Any] = {
            **names, **identity, "date_of_birth": birth_date(rng, age, self.today),
            "home_clinic_id": self.clinic_ids[region_index],
            **self._contact(names, local, age), **self._address(local), **self._people(names, local, age),
        }
        conditions = draw_conditions(rng, age, self.today)
        status = self.decks.allergy_status.draw()
        allergies = draw_allergies(rng) if status == "recorded" else []
        alerts = draw_alerts(rng, self.decks.alert.draw(), conditions, age)
        archived = rng.choice(ARCHIVE_REASONS) if self.decks.archived.draw() else ""
        return SyntheticPatient(fields, status, conditions, allergies, alerts, archived)

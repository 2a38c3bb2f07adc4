"""Pools of synthetic names, streets, phone numbers and outside clinicians, built once per seed.

Calling Faker per row is slow (tens of microseconds a call), so the demo takes Faker's own en_US
name lists with their frequency weights once, builds everything else from them with a seeded
`random.Random`, and then draws from these pools for each patient. Nothing here is real patient
data: the names are Faker's census-frequency lists, combined at random.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate

from faker.providers.person.en_US import Provider as FakerPerson

from ketaflow.phones import normalise_phone

from .regions import OTHER_AREA_CODES, REGIONS, Region

STREET_SUFFIXES = ("St", "Ave", "Dr", "Ln", "Ct", "Way", "Rd", "Pl", "Blvd", "Ter", "Loop")
PLACE_WORDS = (
    "Cedar", "Willow", "Summit", "Riverbend", "Juniper", "Aspen", "Evergreen", "Meadowlark",
    "Bridgeview", "Cascade", "Larkspur", "Hawthorne", "Foxglove", "Stonegate", "Clearwater",
    "Bluebird", "Granite Peak", "Maple Hollow", "Sagebrush", "Pinecrest",
)
PCP_PRACTICE_KINDS = ("Family Medicine", "Internal Medicine", "Primary Care", "Community Health")
REFERRER_PRACTICE_KINDS = (
    "Behavioral Health", "Psychiatry Associates", "Counseling Center", "Pain Medicine",
    "Mental Health Clinic",
)
REFERRER_CREDENTIALS = ("MD", "MD", "DO", "PMHNP", "PA-C", "LCSW", "PsyD", "LPC")


class Weighted:
    """Draws items with given relative weights from a `random.Random`, in O(log n)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.items: tuple[str, ...] = tuple(weights)
        self.cumulative: tuple[float, ...] = tuple(accumulate(weights.values()))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> str:
        index = bisect(self.cumulative, rng.random() * self.total)
        return self.items[min(index, len(self.items) - 1)]


@dataclass(frozen=True)
class Clinician:
    name: str
    practice: str
    phone: str
    address: str = ""


@dataclass(frozen=True)
class RegionPools:
    region: Region
    phones: tuple[str, ...]  # E.164, local area codes, 555-01xx
    pharmacies: tuple[Clinician, ...]  # name is the pharmacy's name
    primary_care: tuple[Clinician, ...]
    referrers: tuple[Clinician, ...]


@dataclass(frozen=True)
class Pools:
    female: Weighted
    male: Weighted
    nonbinary: Weighted
    family: Weighted
    streets: tuple[str, ...]
    other_phones: tuple[str, ...]
    regions: tuple[RegionPools, ...]

    def given(self, rng: random.Random, kind: str) -> str:
        """A first name for kind "female", "male" or "nonbinary"."""
        return {"female": self.female, "male": self.male}.get(kind, self.nonbinary).pick(rng)

    def person(self, rng: random.Random) -> str:
        kind = rng.choice(("female", "male"))
        return f"{self.given(rng, kind)} {self.family.pick(rng)}"


def fictional_phones(area_codes: Sequence[str], region: str = "US") -> tuple[str, ...]:
    """Every 555-0100..555-0199 number in `area_codes`, normalised to E.164 once."""
    return tuple(
        normalise_phone(f"({code}) 555-01{line:02d}", region)
        for code in area_codes for line in range(100)
    )


def street_address(rng: random.Random, streets: Sequence[str]) -> str:
    return f"{rng.randint(100, 19999)} {rng.choice(streets)}"


def _clinicians(rng: random.Random, pools: Pools, region: Region, phones: Sequence[str],
                count: int, kinds: Sequence[str], credentials: Sequence[str]) -> tuple[Clinician, ...]:
    found: list[Clinician] = []
    for _ in range(count):
        practice_name = rng.choice((rng.choice(PLACE_WORDS), rng.choice(region.towns).city,
                                    pools.family.pick(rng)))
        credential = rng.choice(credentials)
        title = "Dr. " if credential in {"MD", "DO", "PsyD"} else ""
        suffix = "" if title else f", {credential}"
        found.append(Clinician(
            name=f"{title}{pools.person(rng)}{suffix}",
            practice=f"{practice_name} {rng.choice(kinds)}",
            phone=rng.choice(phones),
        ))
    return tuple(found)


def _pharmacies(rng: random.Random, pools: Pools, region: Region,
                phones: Sequence[str]) -> tuple[Clinician, ...]:
    found: list[Clinician] = []
    for index in range(24):
        town = region.towns[index % len(region.towns)]
        name = rng.choice((f"{pools.family.pick(rng)} Family Pharmacy",
                           f"{town.city} Community Pharmacy", f"{rng.choice(PLACE_WORDS)} Apothecary",
                           f"{rng.choice(PLACE_WORDS)} Drug"))
        address = (f"{street_address(rng, pools.streets)}, {town.city}, {town.state} "
                   f"{rng.choice(town.zip_codes)}")
        found.append(Clinician(name=name, practice="", phone=rng.choice(phones), address=address))
    return tuple(found)


def build_pools(seed: int) -> Pools:
    """The pools for `seed`; the same seed always gives the same pools."""
    rng = random.Random(f"ketaflow-demo-pools:{seed}")
    family = Weighted(FakerPerson.last_names)
    street_names = sorted({f"{rng.choice((*PLACE_WORDS, family.pick(rng)))} {rng.choice(STREET_SUFFIXES)}"
                           for _ in range(600)})
    base = Pools(
        female=Weighted(FakerPerson.first_names_female),
        male=Weighted(FakerPerson.first_names_male),
        nonbinary=Weighted(FakerPerson.first_names_nonbinary),
        family=family,
        streets=tuple(street_names),
        other_phones=fictional_phones(OTHER_AREA_CODES),
        regions=(),
    )
    regions = []
    for region in REGIONS:
        phones = fictional_phones(region.area_codes)
        regions.append(RegionPools(
            region=region,
            phones=phones,
            pharmacies=_pharmacies(rng, base, region, phones),
            primary_care=_clinicians(rng, base, region, phones, 60, PCP_PRACTICE_KINDS,
                                     ("MD", "DO", "NP", "PA-C")),
            referrers=_clinicians(rng, base, region, phones, 40, REFERRER_PRACTICE_KINDS,
                                  REFERRER_CREDENTIALS),
        ))
    return replace(base, regions=tuple(regions))

"""The demo practice's calendar resources: staff working hours, the coming holidays, enough chairs.

Every staff member works their clinics' opening hours (one working at both clinics splits the week);
Christmas Day and New Year's Day are closed organization-wide; each clinic has at least `MIN_CHAIRS`
chairs. All through the services that a clinic's settings pages use (`scheduling.setup`,
`clinics.services.save_room`), audit events included.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.clinics.services import save_room
from ketaflow.scheduling.setup import add_closed_day, add_staff_hours

MIN_CHAIRS = 4
HOLIDAYS = ((12, 25, "Christmas Day"), (1, 1, "New Year's Day"))
# Staff working at both clinics: Portland on these weekdays, Denver on the others.
FIRST_CLINIC_DAYS = (0, 1, 2, 5)


def load_resources(
    actor: Actor, clinics: list[Clinic], staff: dict[str, StaffMember], now: datetime
) -> dict[str, int]:
    """Staff hours, closed days and chairs; counts by kind."""
    return {
        "staff hours": _working_hours(actor, clinics, staff),
        "closed days": _closed_days(actor, now),
        "chairs added": _chairs(actor, clinics),
    }


def _working_hours(actor: Actor, clinics: list[Clinic], staff: dict[str, StaffMember]) -> int:
    """Every staff member works their clinics' opening hours; one working at both splits the week."""
    hours: dict[uuid.UUID, list[OpeningHours]] = {c.pk: [] for c in clinics}
    for row in OpeningHours.objects.for_organization(actor.organization_id).filter(clinic__in=clinics):
        hours[row.clinic_id].append(row)
    added = 0
    for member in staff.values():
        theirs = [c for c in clinics if c in member.clinics.all()]
        for clinic in theirs:
            first = clinics.index(clinic) == 0
            for opening in hours[clinic.pk]:
                if len(theirs) > 1 and (opening.weekday in FIRST_CLINIC_DAYS) != first:
                    continue
                add_staff_hours(
                    actor, staff_id=member.pk, clinic_id=clinic.pk, weekday=opening.weekday,
                    starts=opening.opens, ends=opening.closes,
                )
                added += 1
    return added


def _closed_days(actor: Actor, now: datetime) -> int:
    """The next Christmas Day and New Year's Day, closed at every clinic."""
    today = now.date()
    for month, day, reason in HOLIDAYS:
        on = date(today.year, month, day)
        add_closed_day(actor, day=on if on >= today else on.replace(year=today.year + 1), reason=reason)
    return len(HOLIDAYS)


def _chairs(actor: Actor, clinics: list[Clinic]) -> int:
    """Chairs numbered on from those the clinic has, up to `MIN_CHAIRS`."""
    added = 0
    for clinic in clinics:
        have = (
            Room.objects.for_organization(actor.organization_id).filter(clinic=clinic, kind="chair").count()
        )
        for number in range(have + 1, MIN_CHAIRS + 1):
            save_room(actor, clinic.pk, {"name": f"Chair {number}", "kind": "chair", "notes": ""})
            added += 1
    return added

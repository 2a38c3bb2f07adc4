"""Today's board: each clinic's treatment visits of the day with a Check in button, the sessions in
progress (open alerts first, highlighted) and the notes waiting for a prescriber's signature."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic
from ketaflow.scheduling.calendar import STATUS_TONES
from ketaflow.scheduling.models import Appointment
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view

from .access import sessions_of
from .checkin import check_in as check_in_service
from .models import TreatmentSession
from .page import STATUS_BADGES, zone_of

SECTION = "sessions"
Status = TreatmentSession.Status
IN_PROGRESS = (Status.CHECKED_IN, Status.DOSING, Status.RECOVERY)


@dataclass(frozen=True)
class ClinicDay:
    clinic: Clinic
    day: date
    zone: ZoneInfo
    visits: list[Appointment]


def _day_asked(request: HttpRequest) -> date | None:
    text = request.GET.get("date", "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        messages.error(request, "The date must look like 2025-03-14; showing today instead.")
        return None


def clinic_days(actor: Actor, asked: date | None, now: datetime) -> list[ClinicDay]:
    """Every active clinic's treatment visits on `asked` (or its own today), in one query."""
    clinics = list(
        Clinic.objects.for_organization(actor.organization_id).filter(is_active=True).order_by("name")
    )
    frames = []
    window = Q(pk__in=[])
    for clinic in clinics:
        zone = ZoneInfo(clinic.timezone)
        day = asked or now.astimezone(zone).date()
        start = datetime.combine(day, time.min, tzinfo=zone)
        frames.append((clinic, day, zone))
        window |= Q(clinic=clinic, starts_at__gte=start, starts_at__lt=start + timedelta(days=1))
    visits = list(
        Appointment.objects.for_organization(actor.organization_id)
        .filter(window)
        .exclude(appointment_type__route="")
        .select_related("patient", "appointment_type", "room", "session")
        .order_by("starts_at")
    )
    return [
        ClinicDay(clinic, day, zone, [v for v in visits if v.clinic_id == clinic.pk])
        for clinic, day, zone in frames
    ]


def board_sessions(actor: Actor) -> tuple[list[TreatmentSession], list[TreatmentSession]]:
    """(in progress, open alerts first; discharged and waiting for the signed note)."""
    rows = (
        sessions_of(actor.organization_id)
        .filter(status__in=[*IN_PROGRESS, Status.DISCHARGED])
        .select_related("patient__home_clinic", "clinic", "appointment__room")
        .annotate(open_alerts=Count("alerts", filter=Q(alerts__responded_at__isnull=True)))
        .order_by("checked_in_at")
    )
    found = list(rows)
    running = sorted((s for s in found if s.status in IN_PROGRESS), key=lambda s: -s.open_alerts)
    return running, [s for s in found if s.status == Status.DISCHARGED]


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def today(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    now = timezone.now()
    with transaction.atomic():
        days = clinic_days(actor, _day_asked(request), now)
        running, unsigned = board_sessions(actor)
        record(
            actor,
            Action.LIST,
            "TreatmentSession",
            detail={
                "purpose": "today's board",
                "visits": sum(len(d.visits) for d in days),
                "sessions": len(running) + len(unsigned),
            },
        )
    for day in days:
        for visit in day.visits:
            visit.tone = STATUS_TONES.get(Appointment.Status(visit.status), "brand")  # type: ignore[attr-defined]
    for session in [*running, *unsigned]:
        session.badge = STATUS_BADGES.get(Status(session.status), "brand")  # type: ignore[attr-defined]
        session.zone = zone_of(session)  # type: ignore[attr-defined]
    return render(
        request,
        "sessions/today.html",
        {
            "days": days,
            "running": running,
            "unsigned": unsigned,
            "section": SECTION,
            "can_chart": actor.can(Permission.CHART_SESSIONS),
            "can_sign": actor.can(Permission.SIGN_DOSES),
            "asked": request.GET.get("date", ""),
        },
    )


@require_POST
@staff_view(Permission.CHART_SESSIONS)
def check_in(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """Check the patient in and open the chairside page; a refusal goes back to the board."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    try:
        session = check_in_service(actor, appointment_id)
    except ValidationFailed as failure:
        for error in failure.errors:
            messages.error(request, f"Not checked in: {error.message}")
        return redirect(_board_url(request))
    messages.success(request, f"{session.patient.display_name} is checked in.")
    return redirect("sessions:detail", session_id=session.pk)


def _board_url(request: HttpRequest) -> str:
    asked = request.POST.get("date", "").strip()
    base = reverse("sessions:today")
    return f"{base}?{urlencode({'date': asked})}" if asked else base

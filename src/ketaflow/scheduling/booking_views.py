"""Booking pages: book a visit (free slots by HTMX), lay out a plan's series, one appointment's
page with its actions, and the waitlist. Views parse, call one service and render."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.clinics.models import Clinic
from ketaflow.patients.services import open_patient
from ketaflow.patients.views import htmx_target
from ketaflow.plans.models import TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import services, waitlist
from .availability import Slot, free_slots
from .booking import _minutes
from .forms import BookForm, ReasonForm, RescheduleForm, SeriesForm, WaitlistForm
from .series_booking import book_series, preview_series
from .setup import types_for


def encode(slot: Slot) -> str:
    staff = ",".join(str(s) for s in slot.staff_ids)
    return f"{slot.starts_at.isoformat()}|{slot.room.pk if slot.room else ''}|{staff}"


def _decode(value: str) -> tuple[str, str, list[str]]:
    parts = [*value.split("|"), "", "", ""][:3]
    return parts[0], parts[1], [s for s in parts[2].split(",") if s]


def _plan_of(actor: Any, raw: str, patient_id: uuid.UUID) -> TreatmentPlan | None:
    try:
        key = uuid.UUID(raw)
    except ValueError:
        return None
    found: TreatmentPlan | None = (
        TreatmentPlan.objects.for_organization(actor.organization_id)
        .filter(pk=key, patient_id=patient_id)
        .first()
    )
    return found


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_SCHEDULE)
def book(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """GET: the form, and the free slots once clinic, type and date are chosen (an HTMX fragment
    for #slot-list). POST: book the chosen slot or the time typed by hand."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = open_patient(actor, patient_id, purpose="booking")
    types = types_for(actor)
    data = request.POST if request.method == "POST" else request.GET
    plan = _plan_of(actor, data.get("plan_id") or request.GET.get("plan", ""), patient.pk)
    initial = {
        "clinic_id": str(plan.clinic_id if plan else patient.home_clinic_id or ""),
        "type_key": request.GET.get("type")
        or (protocol_of(plan).appointment_type if plan else "consultation"),
        "day": timezone.localdate() + timedelta(days=1),
        "plan_id": str(plan.pk) if plan else "",
    }
    bound = request.method == "POST" or "day" in request.GET
    form = BookForm(
        data if bound else None, initial=initial, organization_id=actor.organization_id, types=types
    )
    slots: list[Slot] = []
    clinic = None
    if bound and form.is_valid():
        clinic = (
            Clinic.objects.for_organization(actor.organization_id)
            .filter(pk=form.cleaned_data["clinic_id"])
            .first()
        )
        kind = next((t for t in types if t.key == form.cleaned_data["type_key"]), None)
        if request.method == "POST" and clinic is not None:
            done = _book(request, form, patient.pk, clinic)
            if done is not None:
                return done
        if clinic is not None and kind is not None:
            slots = free_slots(
                actor.organization_id,
                clinic,
                kind,
                form.cleaned_data["day"],
                minutes=_minutes(kind, plan),
                after=timezone.now(),
            )
    context = {
        "patient": patient,
        "plan": plan,
        "form": form,
        "slots": [(encode(s), s) for s in slots],
        "searched": bound,
        "clinic": clinic,
        "section": "patients",
    }
    template = "_slots.html" if htmx_target(request) == "slot-list" else "book.html"
    with timezone.override(ZoneInfo(clinic.timezone) if clinic else timezone.get_current_timezone()):
        return render(request, f"scheduling/booking/{template}", context)


def _book(request: HttpRequest, form: BookForm, patient_id: uuid.UUID, clinic: Clinic) -> HttpResponse | None:
    actor = request.actor  # type: ignore[attr-defined]
    data = form.cleaned_data
    room_id, staff_ids = data.get("room_id") or None, list(data.get("staff_ids") or [])
    starts_at = None
    if data.get("slot"):
        raw, slot_room, slot_staff = _decode(data["slot"])
        try:
            starts_at = datetime.fromisoformat(raw)
        except ValueError:
            starts_at = None
        room_id, staff_ids = room_id or slot_room or None, staff_ids or slot_staff
    elif data.get("time"):
        starts_at = datetime.combine(data["day"], data["time"], tzinfo=ZoneInfo(clinic.timezone))
    if starts_at is None:
        form.add_error("time", "Pick a free slot, or enter a start time.")
        return None
    try:
        appointment = services.book(
            actor,
            patient_id,
            clinic_id=clinic.pk,
            type_key=data["type_key"],
            starts_at=starts_at,
            room_id=room_id,
            staff_ids=staff_ids,
            plan_id=data.get("plan_id") or None,
            notes=data.get("notes", ""),
        )
    except ValidationFailed as failure:
        show_errors(form, failure, rename={"starts_at": "time"})
        return None
    messages.success(
        request,
        f"Booked: {appointment.appointment_type.name} on "
        f"{appointment.starts_at.astimezone(ZoneInfo(clinic.timezone)):%a %d %b %Y at %H:%M}.",
    )
    return redirect("scheduling:appointment", appointment_id=appointment.pk)


@require_http_methods(["GET", "POST"])
@staff_view(Permission.VIEW_SCHEDULE)
def series(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    """GET: the preview table (session, block, target, proposed slot, days off target, unplaced with
    reasons). POST: book them all (EDIT_SCHEDULE)."""
    actor = request.actor  # type: ignore[attr-defined]
    data = request.POST if request.method == "POST" else request.GET
    form = SeriesForm(data if "phase" in data else None, initial={"phase": "induction"})
    args: dict[str, Any] = {"phase": "induction"}
    if form.is_bound and form.is_valid():
        args = {
            "phase": form.cleaned_data["phase"],
            "start_date": form.cleaned_data["start_date"],
            "count": form.cleaned_data["count"],
        }
    result = None
    preview = None
    try:
        if request.method == "POST":
            actor.require(Permission.EDIT_SCHEDULE)
            result = book_series(actor, plan_id, **args)
            messages.success(
                request, f"Booked {len(result.booked)} session{'s' if len(result.booked) != 1 else ''}."
            )
        preview = preview_series(actor, plan_id, **args)
    except ValidationFailed as failure:
        show_errors(form, failure, rename={"plan_id": "phase"})
    plan = (
        preview.plan
        if preview
        else TreatmentPlan.objects.for_organization(actor.organization_id).one(plan_id, "plan")
    )
    zone = ZoneInfo(plan.clinic.timezone)
    with timezone.override(zone):
        return render(
            request,
            "scheduling/booking/series.html",
            {
                "plan": plan,
                "preview": preview,
                "result": result,
                "form": form,
                "zone": zone,
                "rows": [(p, p.slot.starts_at.astimezone(zone)) for p in preview.proposed] if preview else [],
                "can_book": actor.can(Permission.EDIT_SCHEDULE),
                "section": "patients",
                "post_start": args["start_date"].isoformat() if args.get("start_date") else "",
                "post_count": args.get("count") or "",
            },
        )


ACTIONS = ("arrive", "complete", "cancel", "no_show", "reschedule", "offer")


@require_http_methods(["GET", "POST"])
@staff_view(Permission.VIEW_SCHEDULE)
def appointment(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """One appointment; POST `action` = arrive, complete, cancel, no_show, reschedule or offer (book a
    waiting patient into the freed slot)."""
    actor = request.actor  # type: ignore[attr-defined]
    forms: dict[str, Any] = {
        "cancel": ReasonForm(prefix="cancel"),
        "no_show": ReasonForm(prefix="no_show"),
        "reschedule": RescheduleForm(prefix="reschedule"),
    }
    action = request.POST.get("action", "") if request.method == "POST" else ""
    problem = ""
    if action in ACTIONS:
        actor.require(Permission.EDIT_SCHEDULE)
        done = _act(request, appointment_id, action, forms)
        if isinstance(done, HttpResponse):
            return done
        problem = done
    current = services.open_appointment(actor, appointment_id, purpose="appointment page")
    zone = ZoneInfo(current.clinic.timezone)
    with timezone.override(zone):
        return render(
            request,
            "scheduling/booking/appointment.html",
            {
                "appointment": current,
                "local_start": current.starts_at.astimezone(zone),
                "local_end": current.ends_at.astimezone(zone),
                "staff_rows": list(current.staff_rows.all()),
                "offers": waitlist.offers_for(current),
                "forms": forms,
                "problem": problem,
                "can_edit": actor.can(Permission.EDIT_SCHEDULE),
                "moved_to": getattr(current, "rescheduled_to", None),
                "section": "patients",
            },
            status=422 if problem or any(f.errors for f in forms.values()) else 200,
        )


def _act(
    request: HttpRequest, appointment_id: uuid.UUID, action: str, forms: dict[str, Any]
) -> HttpResponse | str:
    """Run one action; a redirect on success, else the problem text (errors also land on the form)."""
    actor = request.actor  # type: ignore[attr-defined]
    try:
        if action == "arrive":
            services.mark_arrived(actor, appointment_id)
            messages.success(request, "Marked arrived.")
        elif action == "complete":
            services.complete(actor, appointment_id)
            messages.success(request, "Marked completed.")
        elif action == "offer":
            booked = waitlist.book_from_waitlist(actor, request.POST.get("entry_id", ""), appointment_id)
            messages.success(request, "Booked from the waitlist.")
            return redirect("scheduling:appointment", appointment_id=booked.pk)
        else:
            form = forms[action] = (RescheduleForm if action == "reschedule" else ReasonForm)(
                request.POST, prefix=action
            )
            if not form.is_valid():
                return "Check the form below."
            try:
                if action == "reschedule":
                    zone = ZoneInfo(
                        services.open_appointment(actor, appointment_id, purpose="reschedule").clinic.timezone
                    )
                    when = datetime.combine(form.cleaned_data["day"], form.cleaned_data["time"], tzinfo=zone)
                    moved = services.reschedule(
                        actor, appointment_id, starts_at=when, reason=form.cleaned_data["reason"]
                    )
                    messages.success(request, "Rescheduled; the old booking is cancelled.")
                    return redirect("scheduling:appointment", appointment_id=moved.pk)
                end = services.cancel if action == "cancel" else services.mark_no_show
                end(actor, appointment_id, reason=form.cleaned_data["reason"])
                messages.success(request, "Cancelled." if action == "cancel" else "Marked as a no-show.")
            except ValidationFailed as failure:
                show_errors(form, failure, rename={"starts_at": "time"})
                return "Nothing was changed; see the form below."
    except ValidationFailed as failure:
        return "; ".join(e.message for e in failure.errors)
    return redirect("scheduling:appointment", appointment_id=appointment_id)


@require_http_methods(["GET", "POST"])
@staff_view(Permission.VIEW_SCHEDULE)
def waitlist_page(request: HttpRequest) -> HttpResponse:
    """Everyone waiting; POST adds a patient (from the booking page) or removes an entry."""
    actor = request.actor  # type: ignore[attr-defined]
    types = types_for(actor)
    form = WaitlistForm(organization_id=actor.organization_id, types=types)
    if request.method == "POST":
        actor.require(Permission.EDIT_SCHEDULE)
        if request.POST.get("remove"):
            try:
                waitlist.remove_from_waitlist(
                    actor, request.POST["remove"], reason=request.POST.get("reason", "")
                )
                messages.success(request, "Taken off the waitlist.")
                return redirect("scheduling:waitlist")
            except ValidationFailed as failure:
                messages.error(request, failure.errors[0].message)
        else:
            form = WaitlistForm(request.POST, organization_id=actor.organization_id, types=types)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    waitlist.add_to_waitlist(
                        actor,
                        data["patient_id"],
                        clinic_id=data["clinic_id"],
                        type_key=data["type_key"],
                        earliest=data["earliest"],
                        latest=data["latest"],
                        notes=data["notes"],
                        plan_id=request.POST.get("plan_id") or None,
                    )
                except ValidationFailed as failure:
                    show_errors(form, failure)
                else:
                    messages.success(request, "Added to the waitlist.")
                    return redirect("scheduling:waitlist")
    entries = waitlist.list_waitlist(actor)
    return render(
        request,
        "scheduling/booking/waitlist.html",
        {
            "entries": entries,
            "form": form,
            "can_edit": actor.can(Permission.EDIT_SCHEDULE),
            "section": "patients",
        },
        status=422 if form.errors else 200,
    )

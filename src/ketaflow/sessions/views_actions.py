"""The chairside actions: each POST parses one form, calls one service and re-renders the page.

An HTMX request gets the page body back (the section updated, errors beside their fields, nothing
saved on an error); a plain form post is redirected to the page on success (post/redirect/get) or
shown the page with the errors. Every action first finds the session in the user's organization, so
another organization's id is a 404 before any form is read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import checkin, doses, effects, notes, recovery, scores, vitals
from . import forms as f
from .access import sessions_of
from .live_chart import clock
from .models import DosePreparation, SideEffect, TreatmentSession, VitalAlert
from .page import alert_prefix, instruments, preparation_form, rescue_form, zone_of
from .views_session import is_htmx, render_session

Call = Callable[[Actor, TreatmentSession, Any], str]


def _session(actor: Actor, session_id: uuid.UUID) -> TreatmentSession:
    """This organization's session (NotFound otherwise), with what the zone needs."""
    found: TreatmentSession = (
        sessions_of(actor.organization_id)
        .select_related("clinic", "patient__home_clinic")
        .one(session_id, "session")
    )
    return found


def _done(request: HttpRequest, session_id: uuid.UUID, message: str, anchor: str) -> HttpResponse:
    if message:
        messages.success(request, message)
    if is_htmx(request):
        return render_session(request, session_id)
    return redirect(f"{reverse('sessions:detail', kwargs={'session_id': session_id})}#{anchor}")


def act(
    request: HttpRequest,
    session_id: uuid.UUID,
    name: str,
    make: Callable[..., Any],
    call: Call,
    anchor: str,
    *,
    keep: Callable[[Any], Any] | None = None,
    session: TreatmentSession | None = None,
) -> HttpResponse:
    """Bind `make(data, zone=...)` to the POST; on a valid form run `call`, whose return is the
    success message; a ValidationFailed puts each error beside its field. The page is shown again
    with the form as `name` (or `keep(form)`). `session`: the one the caller has found already."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session = session or _session(actor, session_id)
    form = make(request.POST, zone=zone_of(session))
    if form.is_valid():
        try:
            message = call(actor, session, form)
        except ValidationFailed as failure:
            show_errors(form, failure, rename=form.error_names())
        else:
            return _done(request, session_id, message, anchor)
    return render_session(request, session_id, **{name: keep(form) if keep else form})


def _failed(
    request: HttpRequest, session_id: uuid.UUID, failure: ValidationFailed, anchor: str
) -> HttpResponse:
    """An action without a form (verify, resolve): the errors as messages above the page."""
    for error in failure.errors:
        messages.error(request, error.message)
    return _done(request, session_id, "", anchor)


def post(permission: Permission) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """POST only (405 otherwise), signed-in staff holding `permission` (403), NotFound -> 404."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return require_POST(staff_view(permission)(view))

    return decorate


# ---------- before dosing ----------


@post(Permission.CHART_SESSIONS)
def checklist(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.ChecklistForm) -> str:
        decision = checkin.record_checklist(actor, session.pk, **form.values())
        if decision.ready:
            return "Checklist saved: ready to dose."
        return f"Checklist saved: not ready ({len(decision.blockers)} to resolve or override)."

    return act(request, session_id, "checklist_form", f.ChecklistForm, call, "checklist")


@post(Permission.SIGN_DOSES)
def override(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.ReasonForm) -> str:
        checkin.override_readiness(actor, session.pk, reason=form.cleaned_data["reason"])
        return "Readiness overridden; the reason is recorded."

    return act(
        request,
        session_id,
        "override_form",
        lambda data, zone: f.ReasonForm(data, zone=zone, label="Reason to proceed"),
        call,
        "readiness",
    )


@post(Permission.CHART_SESSIONS)
def cancel(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.ReasonForm) -> str:
        checkin.cancel_session(actor, session.pk, reason=form.cleaned_data["reason"])
        return "The session is cancelled."

    return act(
        request,
        session_id,
        "cancel_form",
        lambda data, zone: f.ReasonForm(data, zone=zone, prefix="cancel", label="Reason for cancelling"),
        call,
        "checklist",
    )


# ---------- the dose ----------


@post(Permission.HANDLE_CONTROLLED)
def prepare(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session = _session(actor, session_id)

    def call(actor: Actor, session: TreatmentSession, form: f.PreparationForm) -> str:
        made = doses.prepare_dose(actor, session.pk, **form.values())
        return f"Prepared {made.drawn_mg.normalize():f} mg; the ledger entry is written."

    return act(
        request,
        session_id,
        "prep_form",
        lambda data, zone: preparation_form(actor, session, zone, data),
        call,
        "dose",
        session=session,
    )


@post(Permission.HANDLE_CONTROLLED)
def verify(request: HttpRequest, session_id: uuid.UUID, preparation_id: uuid.UUID) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session = _session(actor, session_id)
    preparation = (
        DosePreparation.objects.for_organization(actor.organization_id)
        .filter(session=session)
        .one(preparation_id, "preparation")
    )
    try:
        doses.verify_preparation(actor, preparation.pk)
    except ValidationFailed as failure:
        return _failed(request, session_id, failure, "dose")
    return _done(request, session_id, "Preparation verified by a second person.", "dose")


RATE_KINDS = ("start", "rate", "resume")
AMOUNT_KINDS = ("give",)


@post(Permission.CHART_SESSIONS)
def event(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.EventForm) -> str:
        data = form.cleaned_data
        kind = data.get("kind", "")
        made = doses.record_event(
            actor,
            session.pk,
            kind=kind,
            at=form.moment(),
            # The form sends the pump rate (or the amount) with every button; only these kinds set one.
            rate_ml_per_h=(data.get("rate_ml_per_h") or None) if kind in RATE_KINDS else None,
            amount_mg=(data.get("amount_mg") or None) if kind in AMOUNT_KINDS else None,
            note=data.get("note", ""),
        )
        return f"{made.get_kind_display()} at {clock(made.at.astimezone(form.zone))}."

    return act(request, session_id, "event_form", f.EventForm, call, "dose")


# ---------- monitoring ----------


@post(Permission.CHART_SESSIONS)
def vitals_entry(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.VitalsForm) -> str:
        result = vitals.record_vitals(actor, session.pk, f.readings_of(form), measured_at=form.moment())
        raised = len(result.alerts)
        if raised:
            return f"Saved. {raised} alert{'s' if raised != 1 else ''} raised: respond above."
        return "Vital signs saved."

    return act(request, session_id, "vitals_form", f.VitalsForm, call, "vitals")


@post(Permission.CHART_SESSIONS)
def alert_respond(request: HttpRequest, session_id: uuid.UUID, vital_alert_id: uuid.UUID) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session = _session(actor, session_id)
    alert = (
        VitalAlert.objects.for_organization(actor.organization_id)
        .filter(session=session)
        .one(vital_alert_id, "alert")
    )
    form = f.AlertResponseForm(request.POST, prefix=alert_prefix(alert), zone=zone_of(session))
    if form.is_valid():
        try:
            vitals.respond_to_alert(
                actor, alert.pk, response=form.cleaned_data["response"], note=form.cleaned_data["note"]
            )
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            label = dict(VitalAlert.Response.choices)[form.cleaned_data["response"]]
            return _done(request, session_id, f"Alert answered: {label.lower()}.", "alerts")
    return render_session(request, session_id, alert_forms={str(alert.pk): form})


@post(Permission.CHART_SESSIONS)
def side_effect(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.SideEffectForm) -> str:
        data = form.cleaned_data
        made = effects.record_side_effect(
            actor,
            session.pk,
            kind=data["kind"],
            severity=data["severity"],
            onset_at=form.moment(),
            note=data["note"],
        )
        return f"Side effect recorded: {made.kind.replace('_', ' ')}, {made.severity}."

    return act(request, session_id, "effect_form", f.SideEffectForm, call, "effects")


@post(Permission.CHART_SESSIONS)
def side_effect_resolve(
    request: HttpRequest, session_id: uuid.UUID, side_effect_id: uuid.UUID
) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session = _session(actor, session_id)
    effect = (
        SideEffect.objects.for_organization(actor.organization_id)
        .filter(session=session)
        .one(side_effect_id, "side effect")
    )
    try:
        effects.resolve_side_effect(actor, effect.pk)
    except ValidationFailed as failure:
        return _failed(request, session_id, failure, "effects")
    return _done(request, session_id, "Side effect marked resolved.", "effects")


@post(Permission.CHART_SESSIONS)
def rescue(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session = _session(actor, session_id)

    def make(data: Any, zone: Any) -> f.RescueForm:
        formulary = effects.clinic_formulary(actor.organization_id)
        return rescue_form(actor, session, zone, formulary, vitals.open_alerts(session), data)

    def call(actor: Actor, session: TreatmentSession, form: f.RescueForm) -> str:
        made = effects.give_rescue(actor, session.pk, **form.values())
        return f"{made.drug_name} {made.dose_mg.normalize():f} mg recorded."

    return act(request, session_id, "rescue_form", make, call, "effects", session=session)


@post(Permission.CHART_SESSIONS)
def score(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    chosen = {i.id: i for i in instruments()}.get(request.POST.get("instrument", ""))
    if chosen is None:
        actor: Actor = request.actor  # type: ignore[attr-defined]
        _session(actor, session_id)
        return _failed(
            request, session_id, ValidationFailed.single("instrument", "Choose CADSS-6 or MOAA/S."), "scores"
        )

    def call(actor: Actor, session: TreatmentSession, form: f.ScoreForm) -> str:
        made = scores.score_in_session(actor, session.pk, chosen.id, form.answers())
        return f"{chosen.short_name} scored: {made.value:g}."

    def make(data: Any, zone: Any) -> f.ScoreForm:
        return f.ScoreForm(data, instrument=chosen, zone=zone)

    return act(request, session_id, "score_forms", make, call, "scores", keep=lambda form: {chosen.id: form})


# ---------- recovery, discharge and the note ----------


@post(Permission.CHART_SESSIONS)
def aldrete(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.AldreteForm) -> str:
        decision = recovery.score_aldrete(actor, session.pk, form.items())
        return "Aldrete scored: ready for discharge." if decision.ready else "Aldrete scored: not ready yet."

    return act(request, session_id, "aldrete_form", f.AldreteForm, call, "recovery")


@post(Permission.CHART_SESSIONS)
def discharge(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.DischargeForm) -> str:
        data = form.cleaned_data
        recovery.discharge(
            actor,
            session.pk,
            escort_handover_name=data["escort_handover_name"],
            send_instructions=tuple(data["send_instructions"]),
            override_reason=data["override_reason"],
        )
        return "Discharged. The note is assembled for the prescriber's signature."

    return act(request, session_id, "discharge_form", f.DischargeForm, call, "recovery")


@post(Permission.SIGN_DOSES)
def sign(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.NoteForm) -> str:
        typed = form.cleaned_data["note"].replace("\r\n", "\n")
        edited = typed.strip() and typed.strip() != session.note.strip()
        notes.sign_note(actor, session.pk, note=typed if edited else None)
        return "The note is signed and locked."

    return act(request, session_id, "sign_form", f.NoteForm, call, "note")


@post(Permission.SIGN_DOSES)
def amend(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    def call(actor: Actor, session: TreatmentSession, form: f.NoteForm) -> str:
        notes.amend_note(
            actor, session.pk, note=form.cleaned_data["note"], reason=form.cleaned_data["reason"]
        )
        return "Amendment recorded; the original note is kept."

    return act(
        request,
        session_id,
        "amend_form",
        lambda data, zone: f.NoteForm(data, amend=True, zone=zone),
        call,
        "note",
    )

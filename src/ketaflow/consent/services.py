"""A patient's consent: request, countersign, withdraw, and whether a route may start (signing is in
signing.py).

Rules decided here (docs for plans and sessions, which call `require_current_consent`):

- A consent is **current** for its route once the patient has signed it *and* a clinician has
  countersigned it, until it is withdrawn. A newer template version does not end a current consent;
  the clinic requests a new one when it wants the patient to sign the new wording.
- **Withdrawing** a signed consent withdraws the patient's consent to that route: every signed
  consent of the patient for the route is withdrawn together. Withdrawing a request not yet signed
  only cancels that request. Staff must give a reason (they record what the patient said); a patient
  withdrawing in the portal may.
- The **typed name** must match the patient's legal name loosely: compared without case, spaces,
  full stops or commas, it must equal the legal first and last name, or first, middle and last.
- On a clinic tablet the signed-in staff member is recorded as the witness (the device owner) and
  is the actor of the audit event; the signer is the patient. The same staff member may countersign
  later; who did each is recorded.

Every write is one transaction with its audit event; audit details carry ids, routes, versions and
flags, never the text, the typed name or a reason.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import TenantQuerySet
from ketaflow.patients.models import Patient
from ketaflow.patients.services import _load
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.validation import FieldError, ValidationFailed

from .models import Consent, route_label
from .template_versions import current_template, default_setting, pair_errors

MAX_REASON = 500


class ConsentRequired(ValidationFailed):
    """The route cannot start: the patient has no current (signed and countersigned) consent for it."""

    def __init__(self, route: str) -> None:
        self.route = route
        super().__init__([FieldError("route", (
            f"There is no current consent for {route_label(route)}: the patient must sign the consent "
            "form and a clinician countersign it before this route can start."
        ))])


def consents_of(organization_id: uuid.UUID) -> TenantQuerySet:
    """The one starting point for consent queries: this organization's rows only."""
    return Consent.objects.for_organization(organization_id)


# ---------- whether a route may start ----------


def current_consent(patient: Patient, route: str) -> Consent | None:
    """The patient's current consent for the route (signed, countersigned, not withdrawn), newest
    signature first; None when there is none. Reads only; the caller audits its own read."""
    found: Consent | None = (
        consents_of(patient.organization_id)
        .filter(patient=patient, route=route, status=Consent.Status.SIGNED, countersigned_at__isnull=False)
        .select_related("template")
        .order_by("-signed_at")
        .first()
    )
    return found


def require_current_consent(patient: Patient, route: str) -> Consent:
    """The current consent for the route, or ConsentRequired (a ValidationFailed on `route`)."""
    found = current_consent(patient, route)
    if found is None:
        raise ConsentRequired(route)
    return found


# ---------- staff: reading ----------


def patient_consents(actor: Actor, patient: Patient) -> list[Consent]:
    """Every consent of a patient already opened (and audited) by the caller, newest request first."""
    actor.require(Permission.VIEW_CLINICAL)
    return list(
        consents_of(actor.organization_id)
        .filter(patient=patient)
        .select_related(
            "template", "requested_by", "witnessed_by", "countersigned_by", "withdrawn_recorded_by"
        )
        .defer("signature_png")  # up to 200 KB each; the lists never show it
        .order_by("-requested_at")
    )


def open_consent(actor: Actor, consent_id: uuid.UUID | str, *, purpose: str = "view") -> Consent:
    """One consent of this organization (NotFound for another's); the read is audited."""
    actor.require(Permission.VIEW_CLINICAL)
    with transaction.atomic():
        found: Consent = (
            consents_of(actor.organization_id)
            .select_related("template", "patient__home_clinic", "requested_by", "witnessed_by",
                            "countersigned_by", "withdrawn_recorded_by")
            .one(consent_id, "consent")
        )
        record(actor, Action.READ, "Consent", found.pk, patient_id=found.patient_id,
               detail={"purpose": purpose})
    return found


# ---------- staff: request ----------


def request_consent(
    actor: Actor, patient_id: uuid.UUID | str, route: str, setting: str | None = None
) -> Consent:
    """Ask the patient to sign the current template version for the route (the version is pinned).

    Raises ValidationFailed (an unknown route or setting, a request or a signature awaiting
    countersignature already open for the route, an archived patient), NotFound or Forbidden.
    """
    actor.require(Permission.EDIT_CLINICAL)
    setting = setting or default_setting(route)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)  # one request at a time per patient
        errors = pair_errors(route, setting)
        if errors:
            raise ValidationFailed(errors)
        if patient.is_archived:
            raise ValidationFailed.single(None, "This patient is archived; restore the record first.")
        open_rows = consents_of(actor.organization_id).filter(patient=patient, route=route)
        waiting = open_rows.filter(status=Consent.Status.REQUESTED).select_related("template").first()
        if waiting is not None:
            raise ValidationFailed.single("route", (
                f"A consent for {route_label(route)} (version {waiting.template.version}) is already waiting "
                "for the patient's signature; withdraw that request first to ask for another."
            ))
        if open_rows.filter(status=Consent.Status.SIGNED, countersigned_at__isnull=True).exists():
            raise ValidationFailed.single("route", (
                f"A signed consent for {route_label(route)} is waiting for a clinician's countersignature; "
                "countersign it, or record a withdrawal, before asking for another."
            ))
        template = current_template(actor.organization_id, route, str(setting))
        now = timezone.now()
        consent = Consent.objects.create(
            organization_id=actor.organization_id, patient=patient, template=template,
            route=route, setting=template.setting, requested_at=now,
            requested_by_id=actor.user_id, recorded_by_id=actor.user_id,
        )
        record(actor, Action.CREATE, "Consent", consent.pk, patient_id=patient.pk, detail={
            "event": "requested", "route": route, "setting": template.setting,
            "template_id": str(template.pk), "version": template.version,
        })
    return consent


# ---------- countersigning ----------


def countersign(actor: Actor, consent_id: uuid.UUID | str) -> Consent:
    """A clinician countersigns a signed consent, which makes it current; after the commit the
    patient is emailed the PDF copy when they have an email address (a failed send changes nothing).

    Raises ValidationFailed (not signed yet, withdrawn, already countersigned), NotFound or Forbidden.
    """
    from .pdf import email_copy_after_commit

    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        consent: Consent = (
            consents_of(actor.organization_id)
            .select_for_update(of=("self",))
            .select_related("template", "patient")
            .one(consent_id, "consent")
        )
        if consent.status == Consent.Status.REQUESTED:
            raise ValidationFailed.single(None, "The patient has not signed this consent yet.")
        if consent.status == Consent.Status.WITHDRAWN:
            raise ValidationFailed.single(None, "This consent was withdrawn; it cannot be countersigned.")
        if consent.countersigned_at is not None:
            raise ValidationFailed.single(None, "This consent is already countersigned.")
        consent.countersigned_at = timezone.now()
        consent.countersigned_by_id = actor.user_id
        consent.save(update_fields=["countersigned_at", "countersigned_by"])
        record(actor, Action.UPDATE, "Consent", consent.pk, patient_id=consent.patient_id, detail={
            "event": "countersigned", "route": consent.route, "version": consent.template.version,
            "same_as_witness": consent.witnessed_by_id is not None
            and consent.witnessed_by_id == actor.user_id,
        })
        if consent.patient.email:
            email_copy_after_commit(actor, consent.pk)
    return consent


# ---------- withdrawal ----------


def _withdraw(actor: Actor, consent: Consent, reason: str, *, via: str, recorded_by: int | None) -> Consent:
    """Inside the caller's transaction, with `consent` locked."""
    if consent.status == Consent.Status.WITHDRAWN:
        raise ValidationFailed.single(None, "This consent is already withdrawn.")
    if consent.status == Consent.Status.REQUESTED:
        rows = [consent]
    else:  # withdrawing consent to the route: every signed consent for it goes
        rows = list(
            consents_of(consent.organization_id)
            .select_for_update()
            .filter(patient_id=consent.patient_id, route=consent.route, status=Consent.Status.SIGNED)
        )
    now = timezone.now()
    for row in rows:
        was_signed = row.status == Consent.Status.SIGNED
        row.status = Consent.Status.WITHDRAWN
        row.withdrawn_at = now
        row.withdrawal_reason = reason
        row.withdrawn_via = via
        row.withdrawn_recorded_by_id = recorded_by
        row.save(update_fields=["status", "withdrawn_at", "withdrawal_reason", "withdrawn_via",
                                "withdrawn_recorded_by"])
        record(actor, Action.UPDATE, "Consent", row.pk, patient_id=row.patient_id, detail={
            "event": "withdrawn" if was_signed else "request withdrawn", "via": via, "route": row.route,
            "reason_given": bool(reason),
        })
        if row.pk == consent.pk:
            consent = row
    return consent


def withdraw_by_staff(actor: Actor, consent_id: uuid.UUID | str, reason: str) -> Consent:
    """Record a withdrawal the patient made to staff (or cancel a request); the reason is required."""
    actor.require(Permission.EDIT_CLINICAL)
    reason = (reason or "").strip()
    with transaction.atomic():
        consent = consents_of(actor.organization_id).select_for_update().one(consent_id, "consent")
        if not reason:
            raise ValidationFailed.single(
                "reason", "Say why: what the patient told you, or why the request is cancelled."
            )
        if len(reason) > MAX_REASON:
            raise ValidationFailed.single("reason", f"Keep the reason to {MAX_REASON} characters.")
        return _withdraw(actor, consent, reason, via=Consent.WithdrawnVia.STAFF, recorded_by=actor.user_id)


def withdraw_in_portal(
    account: PortalAccount, consent_id: uuid.UUID | str, reason: str, ip_address: str | None = None
) -> Consent:
    """The patient withdraws their own consent (or declines a request); a reason is optional."""
    reason = (reason or "").strip()
    with transaction.atomic():
        scope = consents_of(account.organization_id).filter(patient_id=account.patient_id)
        consent = scope.select_for_update().one(consent_id, "consent")
        if len(reason) > MAX_REASON:
            raise ValidationFailed.single("reason", f"Please keep this to {MAX_REASON} characters.")
        return _withdraw(portal_actor(account, ip_address), consent, reason, via=Consent.WithdrawnVia.PATIENT,
                         recorded_by=None)


# ---------- the patient's own reads (portal) ----------


def account_consents(account: PortalAccount, ip_address: str | None = None) -> list[Consent]:
    """The signed-in patient's consents, newest first; the read is audited."""
    with transaction.atomic():
        rows = list(
            consents_of(account.organization_id)
            .filter(patient_id=account.patient_id)
            .select_related("template")
            .defer("signature_png")
            .order_by("-requested_at")
        )
        record(portal_actor(account, ip_address), Action.READ, "Consent", "", patient_id=account.patient_id,
               detail={"purpose": "portal:consents", "count": len(rows)})
    return rows


def account_consent(
    account: PortalAccount, consent_id: uuid.UUID | str, ip_address: str | None = None, *, purpose: str
) -> Consent:
    """One of the signed-in patient's consents (another patient's is NotFound); the read is audited."""
    with transaction.atomic():
        found: Consent = (
            consents_of(account.organization_id)
            .filter(patient_id=account.patient_id)
            .select_related("template", "patient__home_clinic", "countersigned_by", "witnessed_by",
                            "withdrawn_recorded_by")
            .one(consent_id, "consent")
        )
        record(portal_actor(account, ip_address), Action.READ, "Consent", found.pk,
               patient_id=account.patient_id, detail={"purpose": f"portal:{purpose}"})
    return found

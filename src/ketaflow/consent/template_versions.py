"""Consent template versions: the current one per route and setting, the history, and new versions.

Rows are immutable; "editing" writes version n+1 and the highest version is current. Each allowed
(route, setting) gets ketaflow's sample wording as version 1 the first time the organization uses
consent (`ensure_seeded`), written by the system actor and audited like any other version.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import TenantQuerySet
from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from .models import ALLOWED_SETTINGS, ConsentTemplate, allowed_pairs, route_label
from .text import MAX_BODY, MAX_TITLE, normalise
from .wording import sample_wording

MAX_NOTE = 300


def pair_errors(route: str, setting: str | None) -> list[FieldError]:
    """Field errors for an unknown route, or a setting the route cannot be consented for."""
    if route not in ALLOWED_SETTINGS:
        return [FieldError("route", "Choose one of the routes: " + ", ".join(ALLOWED_SETTINGS) + ".")]
    if setting not in ALLOWED_SETTINGS[route]:
        allowed = " or ".join(ALLOWED_SETTINGS[route])
        return [FieldError("setting", f"{route_label(route)} is consented for the setting {allowed} only.")]
    return []


def default_setting(route: str) -> str | None:
    """The route's only allowed setting (None for an unknown route)."""
    allowed = ALLOWED_SETTINGS.get(route, ())
    return allowed[0] if len(allowed) == 1 else None


def templates_of(organization_id: uuid.UUID) -> TenantQuerySet:
    return ConsentTemplate.objects.for_organization(organization_id)


def ensure_seeded(organization_id: uuid.UUID) -> None:
    """Write the sample wording as version 1 for every allowed route and setting that has none."""
    have = set(templates_of(organization_id).values_list("route", "setting").order_by().distinct())
    missing = [pair for pair in allowed_pairs() if pair not in have]
    if not missing:
        return
    system = Actor.system(organization_id, via="consent")
    crisis = crisis_resources(organization_id)
    try:
        with transaction.atomic():
            for route, setting in missing:
                title, body = sample_wording(route, setting, crisis)
                row = ConsentTemplate.objects.create(
                    organization_id=organization_id, route=route, setting=setting, version=1,
                    title=title, body=body, note="ketaflow's sample wording", is_sample=True,
                )
                record(system, Action.CREATE, "ConsentTemplate", row.pk, detail={
                    "route": route, "setting": setting, "version": 1, "sample": True,
                })
    except IntegrityError:
        pass  # another request seeded them at the same moment; theirs stand


def current_template(organization_id: uuid.UUID, route: str, setting: str) -> ConsentTemplate:
    """The highest version for the route and setting (seeding the sample wording on first use)."""
    errors = pair_errors(route, setting)
    if errors:
        raise ValidationFailed(errors)
    ensure_seeded(organization_id)
    # ensure_seeded wrote version 1 if there was none, so there is always one.
    return templates_of(organization_id).filter(route=route, setting=setting).order_by("-version")[0]


def current_templates(actor: Actor) -> list[ConsentTemplate]:
    """The current version of every allowed route and setting, in route order."""
    ensure_seeded(actor.organization_id)
    newer = templates_of(actor.organization_id).filter(
        route=OuterRef("route"), setting=OuterRef("setting"), version__gt=OuterRef("version")
    )
    latest = {
        (row.route, row.setting): row
        for row in templates_of(actor.organization_id).exclude(Exists(newer)).select_related("created_by")
    }
    return [latest[pair] for pair in allowed_pairs() if pair in latest]


def version_history(actor: Actor, route: str, setting: str) -> list[ConsentTemplate]:
    """Every version for the route and setting, newest first. NotFound for a pair that cannot exist."""
    actor.require(Permission.MANAGE_CONSENT_FORMS)
    if pair_errors(route, setting):
        raise NotFound("consent template")
    ensure_seeded(actor.organization_id)
    return list(
        templates_of(actor.organization_id)
        .filter(route=route, setting=setting)
        .select_related("created_by")
        .order_by("-version")
    )


def open_template(actor: Actor, template_id: uuid.UUID | str) -> ConsentTemplate:
    """One version of this organization's templates (NotFound for another organization's)."""
    actor.require(Permission.MANAGE_CONSENT_FORMS)
    found: ConsentTemplate = (
        templates_of(actor.organization_id).select_related("created_by").one(template_id, "consent template")
    )
    return found


def create_version(
    actor: Actor,
    route: str,
    setting: str | None,
    *,
    title: str,
    body: str,
    note: str,
    based_on: int | None = None,
) -> ConsentTemplate:
    """Write version n+1 of the route and setting's template; it becomes the current one.

    Consents already requested or signed keep the version they pinned. `based_on` is the version the
    editor started from: if another version was saved meanwhile, nothing is written and the editor is
    told to start again from it. Raises ValidationFailed (route, setting, title, body, note) or Forbidden.
    """
    actor.require(Permission.MANAGE_CONSENT_FORMS)
    setting = setting or default_setting(route)
    title, body, note = " ".join((title or "").split()), normalise(body or ""), (note or "").strip()
    errors = pair_errors(route, setting)
    if not title:
        errors.append(FieldError("title", "Give the form a title."))
    elif len(title) > MAX_TITLE:
        errors.append(FieldError("title", f"Keep the title to {MAX_TITLE} characters."))
    if not body:
        errors.append(FieldError("body", "Write the text the patient reads and signs."))
    elif len(body) > MAX_BODY:
        errors.append(FieldError("body", f"Keep the text to {MAX_BODY:,} characters."))
    if not note:
        errors.append(FieldError("note", "Say what changed in this version (it is shown in the history)."))
    elif len(note) > MAX_NOTE:
        errors.append(FieldError("note", f"Keep the note to {MAX_NOTE} characters."))
    if errors:
        raise ValidationFailed(errors)
    setting = str(setting)  # pair_errors refused a missing one
    ensure_seeded(actor.organization_id)
    try:
        with transaction.atomic():
            rows = templates_of(actor.organization_id).filter(route=route, setting=setting)
            latest = rows.select_for_update().order_by("-version").first()
            top = rows.aggregate(top=Max("version"))["top"] or 0
            if based_on is not None and based_on != top:
                raise ValidationFailed.single(None, f"Version {top} was saved while you were editing; "
                                                    "open the current version and make your change again.")
            if latest is not None and latest.title == title and latest.body == body:
                raise ValidationFailed.single("body", "This is the same text as the current version; "
                                                      "change the wording (or the title) first.")
            created = ConsentTemplate.objects.create(
                organization_id=actor.organization_id, route=route, setting=setting, version=top + 1,
                title=title, body=body, note=note, created_by_id=actor.user_id,
            )
            record(actor, Action.CREATE, "ConsentTemplate", created.pk, detail={
                "route": route, "setting": setting, "version": created.version, "fields": ["title", "body"],
            })
    except IntegrityError as exc:
        raise ValidationFailed.single(
            None, "Another version was saved at the same moment; open the current version and try again."
        ) from exc
    return created

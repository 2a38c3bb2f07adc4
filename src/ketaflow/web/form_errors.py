"""Showing a service's ValidationFailed on a Django form: each message next to its own field."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from ketaflow.validation import ValidationFailed


def show_errors(
    form: forms.Form, failure: ValidationFailed, rename: Mapping[str, str] | None = None
) -> None:
    """Attach each FieldError to the form field of the same name (or `rename[field]`).

    Errors for no field, or for a field the form does not show, become form-wide errors, so no
    message is ever lost.
    """
    for error in failure.errors:
        name = (rename or {}).get(error.field or "", error.field)
        if name and name in form.fields:
            if error.message not in form.errors.get(name, []):
                form.add_error(name, error.message)
        else:
            form.add_error(None, error.message)

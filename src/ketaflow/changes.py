"""A signal for writes that bypass `Model.save()` (bulk inserts and queryset updates).

Services that write rows in bulk announce them here so that listeners kept in step with saves (the
FHIR projection) stay in step with bulk writes too. Send it inside the writing transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.dispatch import Signal

rows_written = Signal()  # sender: the model class; rows: a list of saved instances


def announce(model: type[models.Model], rows: Iterable[Any]) -> None:
    """Tell listeners that `rows` of `model` were written without `save()`."""
    written = list(rows)
    if written:
        rows_written.send(sender=model, rows=written)

"""One demo load shared by a test module: loaded once, read by every test, rolled back at the end."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from ketaflow.demo.loader import load_demo


def module_demo(patients: int, seed: int = 2026) -> Any:
    """A module-scoped `demo` fixture. Each test still runs in its own savepoint (pytest-django's
    `db`), so a test's writes are undone before the next one; the load itself is undone last."""

    @pytest.fixture(scope="module")
    def demo(django_db_setup: Any, django_db_blocker: Any) -> Any:
        with django_db_blocker.unblock(), transaction.atomic():
            yield load_demo(patients=patients, seed=seed)
            transaction.set_rollback(True)

    return demo

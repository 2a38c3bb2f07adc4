"""A per-address limit on the public forms, counted in Django's cache.

Each scope (`screen`: self-screens judged, `lead`: contact details sent) allows a number of attempts
per address in a fixed window. Settings may override the defaults with
`KETAFLOW_PUBLIC_FORM_LIMITS = {"lead": (10, 3600), ...}`. The cache key holds a hash of the
address, not the address. With the default local-memory cache the count is per server process; a
shared cache (Redis, Memcached, the database cache) makes it exact across processes.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

# (attempts, window in seconds). Abuse limits, not clinical numbers, and ketaflow's own choice (no
# published source): one person needs a few screens and one or two leads; an hour's allowance well
# above that still lets a household or a shared connection (a library, a clinic's waiting room) use the
# forms, while a script filling the front desk's worklist is stopped after ten leads. A deployment
# changes them with KETAFLOW_PUBLIC_FORM_LIMITS (docs/security.md).
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "screen": (30, 3600),
    "lead": (10, 3600),
}


def _period(seconds: int) -> str:
    """3600 -> "hour", 7200 -> "2 hours", 900 -> "15 minutes"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def too_many_message(window: int) -> str:
    return (
        f"Too many forms have been sent from this connection in the last {_period(window)}. "
        "Please try again later, or call the clinic."
    )


class TooManyRequests(Exception):
    """The address used up its attempts for this scope; `str(exc)` is the message to show."""

    def __init__(self, window: int) -> None:
        super().__init__(too_many_message(window))


def _limit(scope: str) -> tuple[int, int]:
    limits = {**DEFAULT_LIMITS, **getattr(settings, "KETAFLOW_PUBLIC_FORM_LIMITS", {})}
    return limits[scope]


def _key(scope: str, address: str | None) -> str:
    digest = hashlib.sha256((address or "unknown").encode()).hexdigest()[:32]
    return f"ketaflow:public-form:{scope}:{digest}"


def take(scope: str, address: str | None) -> None:
    """Count one attempt; raises TooManyRequests once the window's allowance is spent."""
    allowed, window = _limit(scope)
    key = _key(scope, address)
    if cache.add(key, 1, timeout=window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
            count = 1
    if count > allowed:
        raise TooManyRequests(window)

"""Replaying the last month at the clinics through the services, in time order, on a demo clock.

The session, ledger and home services stamp what they record with `django.utils.timezone.now()`
and refuse a time after it. The demo replays a month through those same services, so each step
runs with that clock set to the moment the step happened: every row, ledger entry and audit event
carries its step's time, and the steps of different sessions run interleaved in time order, so each
lot's entries are written in the order of their times and its running balance reads true.

A script is a generator: it does one step, then yields the time of its next step (never earlier).
The clock is set only while `Timeline.run` runs, in the loading process (the demo command or a
test), and never passes the real `until`: a script whose next step falls later stops there, so a
visit still under way is left as it is.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Generator, Iterator
from datetime import datetime
from unittest import mock

from django.utils import timezone

Script = Generator[datetime, None, None]


class DemoClock:
    """What `timezone.now()` returns while a replay runs: the time of the step running."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Timeline:
    """Scripts waiting for the time of their next step, earliest first (ties in the order added)."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        self._waiting: list[tuple[datetime, int, Iterator[datetime]]] = []
        self._order = itertools.count()

    def add(self, at: datetime, script: Script) -> None:
        """Start `script` at `at` (its code up to the first yield runs then)."""
        if at <= self.until:
            heapq.heappush(self._waiting, (at, next(self._order), script))

    def run(self) -> None:
        """Run every step up to `until` in time order."""
        clock = DemoClock(self.until)
        with mock.patch.object(timezone, "now", clock):
            while self._waiting:
                at, _, script = heapq.heappop(self._waiting)
                clock.at = at
                following = next(script, None)
                if following is None:
                    continue
                if following < at:
                    raise ValueError(f"a demo script went back in time ({following} after {at})")
                if following <= self.until:
                    heapq.heappush(self._waiting, (following, next(self._order), script))

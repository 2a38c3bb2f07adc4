"""Review points a plan reaches: the decisions a prescriber owes the patient at this moment.

- futility: in induction, `futility_after` treatments given and the outcome says no response yet
  (APA consensus, Sanacora 2017: few respond after more than 3 infusions if they have not by then);
- end of induction: every induction session given; decide on maintenance;
- relapse: in maintenance or taper, the outcome rules report relapse; consider a booster;
- renewal (home protocols): every `renew_every_sessions` sessions the plan is renewed or stopped;
- supply release (home protocols): every `supply_stage_sessions` the next stage's supply waits for
  the prescriber's review of the last.

Only open phases (induction, maintenance, taper) have review points.

`review_points` returns what is due now, each with its reason and source. The caller supplies the
counts and the outcome judgements (`outcomes.py`); nothing here reads a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocols import PHASES, Protocol

KINDS = {
    "futility": "No response yet: continue, change or stop",
    "end_of_induction": "Induction complete: decide on maintenance",
    "relapse_booster": "Relapse: consider a booster",
    "renewal": "Home plan renewal",
    "supply_release": "Release the next home supply",
}


@dataclass(frozen=True)
class ReviewPoint:
    kind: str
    title: str
    reason: str
    source: str


def review_points(
    protocol: Protocol,
    *,
    phase: str,
    given_in_phase: int,
    given_total: int,
    response: bool | None,
    relapse: bool | None,
    futility_after: int | None = None,
) -> list[ReviewPoint]:
    """The review points due for a plan in `phase` (see the module docstring). `futility_after`
    overrides the protocol's count when the clinic has set its own. A closed plan (completed,
    discontinued) has none. Futility needs `response` False: None (not yet measured) is not a
    failure to respond."""
    due: list[ReviewPoint] = []
    if phase not in PHASES:
        return due
    threshold = futility_after or protocol.futility_after
    if phase == "induction":
        if given_in_phase >= threshold and response is False:
            due.append(
                _point(
                    "futility",
                    f"{given_in_phase} treatment(s) given without a response (review point: {threshold})",
                    protocol.futility_source,
                )
            )
        planned = protocol.induction_sessions
        if planned is not None and given_in_phase >= planned:
            due.append(_point("end_of_induction", f"all {planned} induction sessions given", protocol.source))
    if phase in ("maintenance", "taper") and relapse:
        due.append(
            _point(
                "relapse_booster",
                "the outcome rules report a relapse after response",
                "clinical reference §6: relapse after response",
            )
        )
    home = protocol.home
    if home is not None and given_total:
        if given_total % home.renew_every_sessions == 0:
            due.append(
                _point(
                    "renewal",
                    f"{given_total} home sessions: renew every {home.renew_every_sessions}",
                    protocol.source,
                )
            )
        if given_total % home.supply_stage_sessions == 0:
            due.append(
                _point(
                    "supply_release",
                    f"stage of {home.supply_stage_sessions} session(s) used",
                    protocol.source,
                )
            )
    return due


def _point(kind: str, reason: str, source: str) -> ReviewPoint:
    return ReviewPoint(kind, KINDS[kind], reason, source)

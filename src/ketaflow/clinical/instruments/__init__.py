"""Validated questionnaires as data, and their scoring: usable without a server.

    >>> from ketaflow.clinical.instruments import score
    >>> result = score("phq9", [1, 1, 2, 1, 0, 1, 1, 0, 2])
    >>> result.total, result.band, result.safety_flags
    (9, 'mild', ('phq9_item9_self_harm',))

Sources and licences are carried by each definition (see docs/instruments.md).
"""

from __future__ import annotations

from .definition import DefinitionError, Instrument, Item, Option, parse_definition
from .library import builtin_instruments, get_instrument
from .scoring import AnswerError, Answers, SafetyFlag, Score, normalise_answers, score_instrument

__all__ = [
    "AnswerError",
    "Answers",
    "DefinitionError",
    "Instrument",
    "Item",
    "Option",
    "SafetyFlag",
    "Score",
    "builtin_instruments",
    "get_instrument",
    "normalise_answers",
    "parse_definition",
    "score",
    "score_instrument",
]


def score(instrument_id: str | Instrument, answers: Answers) -> Score:
    """Score `answers` for a built-in instrument id (or a loaded `Instrument`).

    `answers` is a sequence in item order or a mapping by item id, with None for a missing answer.
    Raises ValueError naming the item for an unknown item or an out-of-range answer, and for an
    unknown instrument id.
    """
    instrument = instrument_id if isinstance(instrument_id, Instrument) else get_instrument(instrument_id)
    return score_instrument(instrument, answers)

"""The public self-screen: its questions as data, the outcome rule and the answers it refuses."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaflow.clinical.self_screen import (
    AnswerError,
    DefinitionError,
    Outcome,
    load_self_screen,
    parse_self_screen,
    triage,
    validate_answers,
)

SCREEN = load_self_screen()
RAW = json.loads(resources.files("ketaflow.clinical").joinpath("data/self_screen.json").read_text("utf-8"))

# An adult asking about depression after two antidepressants, with no red flag.
CLEAR = {
    "age_group": "adult",
    "conditions": ["depression"],
    "antidepressants_tried": "two",
    "other_treatments": ["talk_therapy"],
    "pregnancy": "no",
    "psychosis": "no",
    "heart_blood_pressure": "no",
    "aneurysm_brain_bleed": "no",
    "ketamine_reaction": "no",
    "substance_use": "no",
    "suicidal_thoughts_now": "no",
}

RED_FLAG_ANSWERS = [
    ("age_group", "under_18", "under-18", "under 18"),
    ("pregnancy", "yes", "pregnancy", "pregnant"),
    ("pregnancy", "not_sure", "pregnancy", "pregnant"),
    ("psychosis", "yes", "psychosis", "psychosis"),
    ("psychosis", "not_sure", "psychosis", "psychosis"),
    ("heart_blood_pressure", "yes", "heart-blood-pressure", "blood pressure"),
    ("heart_blood_pressure", "not_sure", "heart-blood-pressure", "blood pressure"),
    ("aneurysm_brain_bleed", "yes", "aneurysm-brain-bleed", "aneurysm"),
    ("aneurysm_brain_bleed", "not_sure", "aneurysm-brain-bleed", "aneurysm"),
    ("ketamine_reaction", "yes", "ketamine-reaction", "allergic reaction"),
    ("substance_use", "yes", "substance-use", "alcohol or drug use"),
    ("suicidal_thoughts_now", "yes", "suicidal-thoughts-now", "crisis services"),
]
DIAGNOSTIC_WORDS = ("you have depression", "you are eligible", "diagnos", "you qualify", "cure", "guarantee")


def with_answers(**changes: object) -> dict[str, object]:
    return {**CLEAR, **changes}


# ---------- the outcome rule ----------


def test_an_adult_with_no_red_flag_is_told_to_book_a_consultation():
    result = triage(CLEAR)
    assert result.outcome is Outcome.BOOK
    assert result.outcome.label == "Book a consultation"
    assert result.risk_endorsed is False
    assert result.red_flags == ()
    assert result.reasons == (SCREEN.book_reason,)
    assert "only they can say whether ketamine therapy is right for you" in result.reasons[0]


@pytest.mark.parametrize(("question", "answer", "flag", "phrase"), RED_FLAG_ANSWERS)
def test_each_red_flag_turns_the_outcome_into_talk_to_your_doctor_first(question, answer, flag, phrase):
    result = triage(with_answers(**{question: answer}))
    assert result.outcome is Outcome.TALK_TO_DOCTOR
    assert result.outcome.label == "Talk to your doctor first"
    assert result.red_flags == (flag,)
    assert phrase in result.reasons[0]
    assert SCREEN.talk_to_doctor_reason in result.reasons
    assert "leave your details" in SCREEN.talk_to_doctor_reason


def test_only_thoughts_of_suicide_now_endorse_risk():
    risky = triage(with_answers(suicidal_thoughts_now="yes"))
    assert risky.risk_endorsed is True
    assert risky.outcome is Outcome.TALK_TO_DOCTOR
    for question, answer, _flag, _phrase in RED_FLAG_ANSWERS:
        if question != "suicidal_thoughts_now":
            assert triage(with_answers(**{question: answer})).risk_endorsed is False, question


def test_several_red_flags_give_each_reason_in_the_definitions_order():
    result = triage(with_answers(suicidal_thoughts_now="yes", pregnancy="yes", age_group="under_18"))
    assert result.red_flags == ("under-18", "pregnancy", "suicidal-thoughts-now")
    assert list(result.reasons[:3]) == [
        SCREEN.red_flags[0].reason,
        next(f.reason for f in SCREEN.red_flags if f.id == "pregnancy"),
        next(f.reason for f in SCREEN.red_flags if f.id == "suicidal-thoughts-now"),
    ]


def test_notes_on_answers_follow_the_outcome_sentence_without_changing_the_outcome():
    result = triage(with_answers(antidepressants_tried="none", age_group="older_adult"))
    assert result.outcome is Outcome.BOOK
    assert result.reasons[0] == SCREEN.book_reason
    assert any("usually considered after other treatments" in r for r in result.reasons[1:])
    assert any("65 or older" in r for r in result.reasons[1:])


def test_no_reason_makes_a_diagnostic_claim():
    everything = with_answers(
        **{q: a for q, a, _f, _p in RED_FLAG_ANSWERS if a == "yes" or q == "age_group"},
        conditions=["depression", "bipolar_depression", "chronic_pain"],
        antidepressants_tried="none",
    )
    texts = [*triage(everything).reasons, SCREEN.book_reason]
    for text in texts:
        for word in DIAGNOSTIC_WORDS:
            assert word not in text.lower(), (word, text)


def test_the_result_keeps_the_normalised_answers_and_the_version():
    result = triage(with_answers(conditions=["ptsd", "depression"]))
    assert result.version == SCREEN.version == RAW["version"]
    assert result.answers["conditions"] == ("depression", "ptsd")  # in the options' order
    assert result.answers_json()["conditions"] == ["depression", "ptsd"]
    assert list(result.answers_json()) == [q.id for q in SCREEN.questions]


# ---------- answers refused ----------


def problems_of(answers: object) -> dict[str, str]:
    with pytest.raises(AnswerError) as caught:
        triage(answers)  # type: ignore[arg-type]
    return {p.question: p.message for p in caught.value.problems}


def test_every_unanswered_question_is_named():
    found = problems_of({})
    assert set(found) == {q.id for q in SCREEN.questions}
    assert found["pregnancy"] == "Please answer this question."


def test_an_answer_that_is_not_an_option_names_its_question():
    found = problems_of(with_answers(pregnancy="maybe", conditions=["depression", "sadness"]))
    assert found == {"pregnancy": "Choose one of the answers shown.",
                     "conditions": "Choose one of the answers shown."}


def test_an_unknown_question_is_refused_rather_than_ignored():
    assert problems_of(with_answers(favourite_colour="blue")) == {
        "favourite_colour": "This is not a question of the self-screen."
    }


def test_none_of_these_cannot_be_combined_with_another_treatment():
    found = problems_of(with_answers(other_treatments=["none", "tms"]))
    assert found == {"other_treatments": "“None of these” cannot be chosen together with other answers."}


def test_shapes_are_checked_a_list_for_many_answers_and_text_for_one():
    found = problems_of(with_answers(conditions="depression", pregnancy=["no"], psychosis=1))
    assert found == {
        "conditions": "Send a list of answers.",
        "pregnancy": "Choose one answer.",
        "psychosis": "Choose one answer.",
    }
    assert problems_of(with_answers(conditions=[])) == {"conditions": "Please answer this question."}


def test_answers_that_are_not_an_object_are_refused():
    assert problems_of(["no"]) == {"answers": "Send the answers as an object keyed by question."}


def test_validate_answers_returns_what_triage_judges():
    assert validate_answers(CLEAR) == triage(CLEAR).answers


# ---------- the definition ----------


def test_the_shipped_definition_covers_the_brief_and_cites_a_source_for_every_red_flag():
    questions = {q.id for q in SCREEN.questions}
    assert {"conditions", "antidepressants_tried", "other_treatments", "suicidal_thoughts_now"} <= questions
    flagged = {flag.question for flag in SCREEN.red_flags}
    assert flagged == {
        "age_group", "pregnancy", "psychosis", "heart_blood_pressure", "aneurysm_brain_bleed",
        "ketamine_reaction", "substance_use", "suicidal_thoughts_now",
    }
    for flag in SCREEN.red_flags:
        assert "§3" in flag.source or "§8" in flag.source, flag.id
    condition_options = SCREEN.question("conditions").values
    for wanted in ("depression", "anxiety", "ptsd", "bipolar_depression", "ocd", "chronic_pain"):
        assert wanted in condition_options
    assert [s.id for s in SCREEN.sections] == ["about_you", "help", "treatments", "health", "right_now"]
    assert all(SCREEN.questions_in(s.id) for s in SCREEN.sections)


def broken(path: list[object], value: object) -> dict[str, object]:
    raw = copy.deepcopy(RAW)
    target: object = raw
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return raw


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["version"], "", "version must be non-empty text"),
        (["questions", 0, "section"], "nowhere", "unknown section 'nowhere'"),
        (["questions", 0, "kind"], "free_text", "kind must be single or multi"),
        (["questions", 1, "options", 0, "catalogue_ids"], ["not_a_condition"], "not in the catalogue"),
        (["questions", 0, "exclusive"], ["under_18"], "only a multi-choice question"),
        (["red_flags", 0, "question"], "shoe_size", "unknown question 'shoe_size'"),
        (["red_flags", 1, "answers"], ["perhaps"], "answers must list some answers of 'pregnancy'"),
        (["red_flags", 7, "risk"], False, "at least one red flag must mark risk"),
        (["red_flags", 2, "source"], " ", "source must be non-empty text"),
    ],
)
def test_a_bad_definition_is_refused_naming_the_problem(path, value, message):
    with pytest.raises(DefinitionError, match=message):
        parse_self_screen(broken(path, value))


def test_a_duplicate_question_is_refused():
    raw = copy.deepcopy(RAW)
    raw["questions"].append(copy.deepcopy(raw["questions"][0]))
    with pytest.raises(DefinitionError, match="duplicate id"):
        parse_self_screen(raw)


# ---------- properties ----------

def answer_sets() -> st.SearchStrategy[dict[str, object]]:
    parts: dict[str, st.SearchStrategy[object]] = {}
    for question in SCREEN.questions:
        if question.kind == "single":
            parts[question.id] = st.sampled_from(question.values)
        else:
            plain = [v for v in question.values if v not in question.exclusive]
            parts[question.id] = st.one_of(
                st.sampled_from([[v] for v in question.exclusive]),
                st.lists(st.sampled_from(plain), min_size=1, unique=True),
            )
    return st.fixed_dictionaries(parts)


@given(answer_sets())
def test_the_outcome_is_talk_to_doctor_exactly_when_a_red_flag_answer_is_given(answers):
    result = triage(answers)
    flagged = [
        flag.id for flag in SCREEN.red_flags
        if set(answers[flag.question] if isinstance(answers[flag.question], list)
               else [answers[flag.question]]) & flag.answers
    ]
    assert list(result.red_flags) == flagged
    assert (result.outcome is Outcome.TALK_TO_DOCTOR) == bool(flagged)
    assert result.risk_endorsed == (answers["suicidal_thoughts_now"] == "yes")
    assert result.reasons and len(set(result.reasons)) == len(result.reasons)

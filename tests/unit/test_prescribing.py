"""A protocol's dose for one patient, and what titration the protocol allows (clinical.prescribing)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.dosing import DoseError, Override
from ketaflow.clinical.prescribing import PatientMeasures, prescribe, titration_advice
from ketaflow.clinical.protocols import builtin_protocols, find

ADULT = PatientMeasures(D(80), D(175), "male", 40)


def shipped(key: str) -> Any:
    protocol = find(builtin_protocols(), key)
    assert protocol is not None
    return protocol


def test_iv_depression_at_80_kg_gives_the_whole_chairside_sheet():
    given_ = prescribe(shipped("iv-depression"), ADULT)
    assert given_.dose.mg == D(40) and given_.mg_per_kg == D("0.5")
    assert given_.summary == "40 mg in 104 mL over 40 min at 156 mL/h"
    assert given_.arithmetic == (
        "actual body weight 80.0 kg",
        "0.5 mg/kg x 80.0 kg (actual body weight) = 40.0 mg",
        "within the protocol cap of 100.0 mg",
        "40.0 mg / 10 mg/mL = 4.00 mL, measured in 0.1 mL steps: 4.0 mL = 40.00 mg",
        "4.00 mL of drug + 100 mL bag = 104.00 mL",
        "104.00 mL over 40 min = 156.0 mL/h (60.0 mg/h)",
    )
    assert (given_.protocol_key, given_.protocol_version) == (
        "iv-depression",
        shipped("iv-depression").version,
    )


def test_a_titration_step_above_the_cap_is_held_at_the_cap():
    given_ = prescribe(shipped("iv-depression"), PatientMeasures(D(150), None, "", 40), mg_per_kg=D("1.0"))
    assert given_.dose.mg == D(100) and given_.dose.capped
    assert given_.summary == "100 mg in 110 mL over 40 min at 165 mL/h"


def test_a_dose_that_is_not_one_of_the_protocols_steps_is_refused_on_mg_per_kg():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("iv-depression"), ADULT, mg_per_kg=D("0.6"))
    assert caught.value.field == "mg_per_kg"
    assert "0.5, 0.75, 1" in caught.value.message


def test_a_weight_based_dose_needs_a_weight():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("iv-depression"), PatientMeasures(None, D(170), "female", 40))
    assert caught.value.field == "weight_kg"


def test_a_weight_outside_the_protocols_range_is_refused():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("iv-depression"), PatientMeasures(D(20), None, "", 40))
    assert caught.value.field == "weight_kg"


def test_the_pain_protocol_doses_on_adjusted_weight_and_so_needs_height_and_sex():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("iv-chronic-pain"), PatientMeasures(D(110), None, "male", 50))
    assert caught.value.field == "height_cm"
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("iv-chronic-pain"), PatientMeasures(D(110), D(175), "", 50))
    assert caught.value.field == "sex"


def test_the_pain_protocol_at_110_kg_is_four_hours_on_adjusted_weight():
    given_ = prescribe(shipped("iv-chronic-pain"), PatientMeasures(D(110), D(175), "male", 50))
    assert given_.weight is not None and given_.weight.kg == D("86.3")
    assert given_.dose.mg == D(173)
    assert given_.infusion is not None and given_.infusion.rate_ml_per_h == D("66.8")
    assert "0.5 mg/kg/h x 86.3 kg (adjusted body weight) x 240 min / 60 = 172.6 mg" in given_.arithmetic


def test_a_pain_dose_below_the_usual_minimum_says_so():
    given_ = prescribe(shipped("iv-chronic-pain"), PatientMeasures(D(36), D(150), "female", 50))
    assert given_.dose.mg < D(80)
    assert given_.arithmetic[-1] == "below the protocol's usual minimum of 80 mg: consider the next step"


def test_a_shorter_infusion_than_the_protocol_minimum_is_refused_on_duration_min():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("iv-depression"), ADULT, duration_min=30)
    assert caught.value.field == "duration_min"
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("iv-depression"), ADULT, duration_min=-5)
    assert caught.value.field == "duration_min"


def test_a_longer_infusion_slows_the_pump():
    given_ = prescribe(shipped("iv-depression"), ADULT, duration_min=60)
    assert given_.infusion is not None and given_.infusion.rate_ml_per_h == D(104)


def test_the_crps_infusion_never_runs_above_25_mg_an_hour():
    given_ = prescribe(shipped("iv-crps-daily"), PatientMeasures(D(90), None, "", 50))
    assert given_.dose.mg == D(100) and given_.dose.capped
    assert given_.infusion is not None and given_.infusion.mg_per_h == D(25)


def test_intramuscular_dose_is_a_volume_with_no_bag():
    given_ = prescribe(shipped("im-depression"), PatientMeasures(D(73), None, "", 30))
    assert given_.infusion is None
    assert given_.summary == "37.5 mg = 0.75 mL"


def test_esketamine_first_dose_is_56_mg_in_two_devices():
    given_ = prescribe(shipped("esketamine-trd"), PatientMeasures(None, None, "", 40), first_dose=True)
    assert given_.dose.mg == D(56)
    assert given_.devices is not None and given_.devices.count == 2
    assert given_.summary == "56 mg: 2 device(s), 5 min apart"


def test_esketamine_first_dose_at_65_starts_at_28_mg_and_says_why():
    given_ = prescribe(shipped("esketamine-trd"), PatientMeasures(None, None, "", 65), first_dose=True)
    assert given_.dose.mg == D(28)
    assert given_.arithmetic[-1] == "first dose at age 65: the older-adult start of 28 mg applies"
    assert prescribe(shipped("esketamine-trd"), PatientMeasures(None, None, "", 70), mg=D(28)).dose.mg == D(
        28
    )


def test_esketamine_28_mg_is_not_a_dose_under_65():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("esketamine-trd"), PatientMeasures(None, None, "", 40), mg=D(28))
    assert caught.value.field == "mg"
    assert caught.value.message == "28 mg is not one of 56, 84 mg"


def test_esketamine_a_fraction_of_a_listed_dose_is_refused_on_mg():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("esketamine-trd"), PatientMeasures(None, None, "", 40), mg=D("56.5"))
    assert caught.value.field == "mg"


def test_esketamine_84_mg_on_day_one_is_refused_by_the_label():
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("esketamine-trd"), PatientMeasures(None, None, "", 40), mg=D(84), first_dose=True)
    assert caught.value.message == "the first dose under this protocol is 56 mg"
    later = prescribe(shipped("esketamine-trd"), PatientMeasures(None, None, "", 40), mg=D(84))
    assert later.devices is not None and later.devices.count == 3


def test_esketamine_for_suicidal_ideation_starts_at_84_mg():
    given_ = prescribe(
        shipped("esketamine-suicidal-ideation"), PatientMeasures(None, None, "", 30), first_dose=True
    )
    assert given_.dose.mg == D(84)


def test_esketamine_an_override_must_still_be_whole_devices():
    with pytest.raises(DoseError) as caught:
        prescribe(
            shipped("esketamine-trd"),
            PatientMeasures(None, None, "", 40),
            override=Override(D(100), "test"),
        )
    assert caught.value.field == "dose_mg"


def test_troches_start_at_the_protocols_first_step():
    given_ = prescribe(shipped("sublingual-home"), PatientMeasures(None, None, "", 40))
    assert given_.dose.mg == D(40)
    assert given_.troches is not None and given_.troches.pieces == ((D(40), 1),)
    assert given_.summary == "40 mg: 1 troche(s)"


@pytest.mark.parametrize("mg", ["30", "50", "140"])
def test_a_troche_dose_off_the_protocols_steps_is_refused(mg):
    with pytest.raises(DoseError) as caught:
        prescribe(shipped("sublingual-home"), PatientMeasures(None, None, "", 40), mg=D(mg))
    assert caught.value.field == "mg"
    assert "from 40 to 120 mg in 20 mg steps" in caught.value.message


def titrate(**kwargs: Any) -> Any:
    values = {"current_mg_per_kg": D("0.5"), "sessions_at_dose": 2, "tolerated": True, "responding": False}
    values.update(kwargs)
    return titration_advice(shipped("iv-depression"), **values)


def test_titration_opens_the_next_step_when_tolerated_and_not_responding():
    advice = titrate()
    assert advice.next_mg_per_kg == D("0.75")
    assert advice.reason.startswith("step up open:")
    assert "verify" in advice.source


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sessions_at_dose": 1}, "1 of 2 session(s) at this dose before a step up"),
        ({"tolerated": False}, "the last session was not tolerated: no step up"),
        ({"responding": True}, "responding at this dose: no step up"),
        ({"responding": None}, "no response measured at this dose yet: measure before a step up"),
        ({"current_mg_per_kg": D("1.0")}, "already at the protocol's highest step"),
    ],
)
def test_titration_stays_closed_and_says_why(change, reason):
    advice = titrate(**change)
    assert advice.next_mg_per_kg is None
    assert advice.reason == reason


def test_a_protocol_without_titration_says_so():
    advice = titration_advice(
        shipped("iv-crps-daily"),
        current_mg_per_kg=D("0.35"),
        sessions_at_dose=3,
        tolerated=True,
        responding=False,
    )
    assert (advice.next_mg_per_kg, advice.reason) == (None, "this protocol has no titration steps")


WEIGHT_PROTOCOLS = [p for p in builtin_protocols() if p.dose.kind in ("weight_based", "weight_per_hour")]


@st.composite
def weight_cases(draw: Any) -> tuple[Any, PatientMeasures, D]:
    protocol = draw(st.sampled_from(WEIGHT_PROTOCOLS))
    low, high = protocol.dose.plausible_weight_kg
    tenths = draw(st.integers(int(low * 10), int(high * 10)))
    height = draw(st.integers(140, 210))
    sex = draw(st.sampled_from(["female", "male"]))
    rule = protocol.dose
    base = rule.mg_per_kg if rule.kind == "weight_based" else rule.mg_per_kg_per_hour
    steps = rule.titration.steps_mg_per_kg if rule.titration else (base,)
    step = draw(st.sampled_from(steps))
    return protocol, PatientMeasures(D(tenths) / 10, D(height), sex, 40), step


@settings(max_examples=200, deadline=None)
@given(weight_cases())
def test_no_weight_based_dose_exceeds_the_cap_and_the_volume_delivers_the_dose(case):
    protocol, measures, step = case
    given_ = prescribe(protocol, measures, mg_per_kg=step)
    dose = given_.dose
    assert not dose.overridden
    assert dose.mg <= protocol.dose.cap_mg
    assert dose.volume_ml is not None and protocol.dose.concentration_mg_per_ml is not None
    assert dose.volume_ml * protocol.dose.concentration_mg_per_ml == dose.mg
    assert dose.volume_ml % protocol.dose.increment_ml == 0
    assert dose.capped == (dose.calculated_mg > protocol.dose.cap_mg)
    if given_.infusion is not None:
        minimum = protocol.dose.min_duration_min or protocol.dose.duration_min
        assert given_.infusion.total_ml == dose.volume_ml + protocol.dose.bag_ml
        assert given_.infusion.total_ml / given_.infusion.rate_ml_per_h * 60 >= minimum


@settings(max_examples=200, deadline=None)
@given(weight_cases(), st.integers(10, 400), st.text(min_size=1, max_size=40).filter(lambda t: t.strip()))
def test_a_dose_above_the_cap_only_ever_comes_with_an_override_and_its_reason(case, override_mg, reason):
    protocol, measures, step = case
    given_ = prescribe(protocol, measures, mg_per_kg=step, override=Override(D(override_mg), reason))
    assert given_.dose.overridden
    assert any(reason.strip() in line for line in given_.arithmetic)
    assert given_.dose.mg <= D(override_mg)
    if given_.dose.mg > protocol.dose.cap_mg:
        assert given_.dose.overridden


FIXED_PROTOCOLS = [p for p in builtin_protocols() if p.dose.kind in ("fixed", "troche")]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(FIXED_PROTOCOLS),
    st.one_of(st.sampled_from([28, 56, 84, 40, 60, 80, 100, 120]), st.integers(0, 200)),
    st.integers(18, 95),
)
def test_no_fixed_or_troche_dose_the_protocol_accepts_exceeds_the_cap(protocol, mg, age):
    try:
        given_ = prescribe(protocol, PatientMeasures(None, None, "", age), mg=D(mg))
    except DoseError as refused:
        assert refused.field == "mg"
        return
    assert given_.dose.mg == D(mg) <= protocol.dose.cap_mg and not given_.dose.overridden
    if given_.devices is not None:
        assert given_.devices.count * given_.devices.device_mg == given_.dose.mg
    if given_.troches is not None:
        assert sum(s * n for s, n in given_.troches.pieces) == given_.dose.mg

"""The protocol library: shipped protocols and the validation of a clinic's own (clinical.protocols)."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from typing import Any

import pytest

from ketaflow.clinical.eligibility.rules import Route
from ketaflow.clinical.protocols import ProtocolError, builtin_protocols, builtin_source, find, parse_protocol


def shipped(key: str) -> Any:
    protocol = find(builtin_protocols(), key)
    assert protocol is not None
    return protocol


def definition(key: str = "iv-depression") -> dict[str, Any]:
    return copy.deepcopy(dict(shipped(key).definition))


def test_the_library_ships_every_protocol_the_issue_asks_for():
    keys = {p.key for p in builtin_protocols()}
    assert keys == {
        "iv-depression",
        "iv-chronic-pain",
        "iv-crps-daily",
        "im-depression",
        "esketamine-trd",
        "esketamine-suicidal-ideation",
        "sublingual-home",
    }
    assert "verify" in builtin_source()


@pytest.mark.parametrize("protocol", builtin_protocols(), ids=lambda p: p.key)
def test_every_shipped_protocol_parses_again_from_its_own_definition(protocol):
    again = parse_protocol(protocol.definition, version=protocol.version)
    assert again == protocol
    assert protocol.source and protocol.futility_source
    assert protocol.label == f"{protocol.name} (v{protocol.version})"


@pytest.mark.parametrize("protocol", builtin_protocols(), ids=lambda p: p.key)
def test_every_shipped_phase_names_its_source_or_marks_its_schedule_verify(protocol):
    for name, phase in protocol.phases.items():
        assert phase.source, f"{protocol.key} {name} has no source"


def test_iv_depression_is_half_a_milligram_per_kilogram_over_40_minutes_six_within_21_days():
    iv = shipped("iv-depression")
    assert iv.route is Route.IV and iv.setting == "clinic"
    assert (iv.dose.mg_per_kg, iv.dose.duration_min, iv.dose.min_duration_min) == (D("0.5"), 40, 40)
    assert iv.induction_sessions == 6
    assert iv.phases["induction"].within_days == 21
    assert iv.futility_after == 3 and "APA" in iv.futility_source
    assert "Sanacora" in iv.source and "Oliver" in iv.source
    assert iv.dose.titration is not None and iv.dose.titration.steps_mg_per_kg == (
        D("0.5"),
        D("0.75"),
        D("1.0"),
    )


def test_the_crps_regimen_keeps_schwartzmans_25_mg_an_hour_as_its_cap():
    crps = shipped("iv-crps-daily")
    assert crps.dose.mg_per_kg_per_hour == D("0.35") and crps.dose.duration_min == 240
    assert crps.dose.cap_mg == D(100)  # 25 mg/h x 4 h
    assert "Schwartzman" in crps.source
    assert crps.induction_sessions == 10


def test_esketamine_for_trd_follows_the_label_with_the_older_adult_start_marked_verify():
    esk = shipped("esketamine-trd")
    assert esk.dose.kind == "fixed"
    assert (esk.dose.allowed_mg, esk.dose.first_dose_mg, esk.dose.cap_mg) == ((56, 84), 56, D(84))
    assert (esk.dose.older_adult_age, esk.dose.older_adult_first_dose_mg) == (65, 28)
    assert "older_adult_first_dose_mg" in esk.dose.verify
    assert (esk.dose.device_mg, esk.dose.minutes_between_devices) == (28, 5)
    assert esk.induction_sessions == 12
    assert esk.phases["maintenance"].options_every_days == (7, 14)
    assert esk.futility_after == 8 and "end of the induction phase" in esk.futility_source
    assert "No food for 2 hours" in esk.instructions


def test_esketamine_for_suicidal_ideation_is_84_mg_twice_weekly_for_four_weeks():
    esk = shipped("esketamine-suicidal-ideation")
    assert esk.dose.first_dose_mg == 84
    assert esk.induction_sessions == 8
    assert "maintenance" not in esk.phases


def test_home_sublingual_lists_its_safeguards_and_is_never_a_clinic_protocol():
    home = shipped("sublingual-home")
    assert home.setting == "home" and home.route is Route.SUBLINGUAL_HOME
    assert home.home is not None and home.home.monitor_required
    assert (home.home.supply_stage_sessions, home.home.renew_every_sessions) == (2, 6)
    assert any("monitor" in s for s in home.home.safeguards)


@pytest.mark.parametrize("key", ["iv-depression", "im-depression", "iv-chronic-pain"])
def test_clinic_protocols_remind_the_patient_to_arrange_a_ride_home(key):
    assert "drive you home" in shipped(key).instructions


def bad(change: Any, key: str = "iv-depression") -> ProtocolError:
    data = definition(key)
    change(data)
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(data, version="test")
    return caught.value


@pytest.mark.parametrize(
    ("key", "change", "field"),
    [
        ("iv-depression", lambda d: d.pop("key"), "key"),
        ("iv-depression", lambda d: d.update(key="IV Depression"), "key"),
        ("iv-depression", lambda d: d.update(key="iv--depression"), "key"),
        ("iv-depression", lambda d: d.update(key="clé"), "key"),
        ("iv-depression", lambda d: d.update(route="oral"), "route"),
        ("iv-depression", lambda d: d.update(setting="home"), "setting"),
        ("iv-depression", lambda d: d.update(conditions=["not-a-condition"]), "conditions"),
        ("iv-depression", lambda d: d.update(appointment_type="massage"), "appointment_type"),
        ("iv-depression", lambda d: d.pop("dose"), "dose"),
        ("iv-depression", lambda d: d["dose"].update(kind="guess"), "dose.kind"),
        ("iv-depression", lambda d: d["dose"].update(cap_mg=None), "dose.cap_mg"),
        ("iv-depression", lambda d: d["dose"].update(cap_mg="-1"), "dose.cap_mg"),
        ("iv-depression", lambda d: d["dose"].update(cap_mg=True), "dose.cap_mg"),
        ("iv-depression", lambda d: d["dose"].update(mg_per_kg="half"), "dose.mg_per_kg"),
        ("iv-depression", lambda d: d["dose"].update(weight_basis="lean"), "dose.weight_basis"),
        ("iv-depression", lambda d: d["dose"].update(plausible_weight_kg=["35"]), "dose.plausible_weight_kg"),
        (
            "iv-depression",
            lambda d: d["dose"].update(plausible_weight_kg=["250", "35"]),
            "dose.plausible_weight_kg",
        ),
        (
            "iv-depression",
            lambda d: d["dose"].update(plausible_weight_kg=["35", "x"]),
            "dose.plausible_weight_kg[1]",
        ),
        (
            "iv-depression",
            lambda d: d["dose"].update(concentration_mg_per_ml=None),
            "dose.concentration_mg_per_ml",
        ),
        ("iv-depression", lambda d: d["dose"].update(duration_min=30), "dose.duration_min"),
        ("iv-depression", lambda d: d["dose"].pop("duration_min"), "dose.duration_min"),
        ("iv-depression", lambda d: d["dose"].update(verify="cap_mg"), "dose.verify"),
        (
            "iv-depression",
            lambda d: d["dose"]["titration"].update(steps_mg_per_kg=["0.5", "1.0", "0.75"]),
            "dose.titration.steps_mg_per_kg",
        ),
        (
            "iv-depression",
            lambda d: d["dose"]["titration"].update(steps_mg_per_kg=["0.75", "1.0"]),
            "dose.titration.steps_mg_per_kg",
        ),
        (
            "iv-depression",
            lambda d: d["dose"]["titration"].update(steps_mg_per_kg=["0.5", "zero"]),
            "dose.titration.steps_mg_per_kg[1]",
        ),
        ("iv-depression", lambda d: d["dose"]["titration"].pop("when"), "dose.titration.when"),
        ("iv-depression", lambda d: d.update(phases={"maintenance": {}}), "phases"),
        ("iv-depression", lambda d: d["phases"].update(boost={}), "phases.boost"),
        ("iv-depression", lambda d: d["phases"]["induction"].update(blocks=[]), "phases.induction.blocks"),
        (
            "iv-depression",
            lambda d: d["phases"]["induction"]["blocks"][0].update(per_week=8),
            "phases.induction.blocks[0].per_week",
        ),
        (
            "iv-depression",
            lambda d: d["phases"]["induction"]["blocks"][0].pop("label"),
            "phases.induction.blocks[0].label",
        ),
        (
            "iv-depression",
            lambda d: d["phases"]["maintenance"]["blocks"][1].pop("sessions"),
            "phases.maintenance.blocks[1].sessions",
        ),
        (
            "iv-depression",
            lambda d: d["phases"]["maintenance"]["blocks"][0].update(sessions=None),
            "phases.maintenance.blocks[0]",
        ),
        (
            "iv-depression",
            lambda d: d["phases"]["induction"].update(min_gap_days=0),
            "phases.induction.min_gap_days",
        ),
        (
            "iv-depression",
            lambda d: d["phases"]["induction"].update(tolerance_days=3),
            "phases.induction.within_days",
        ),
        (
            "iv-depression",
            lambda d: d["phases"]["maintenance"].update(within_days=30),
            "phases.maintenance.within_days",
        ),
        (
            "iv-depression",
            lambda d: d["phases"]["induction"].update(options_every_days=[7]),
            "phases.induction.options_every_days",
        ),
        ("iv-depression", lambda d: d["phases"]["induction"].update(source=7), "phases.induction.source"),
        ("iv-depression", lambda d: d["reviews"].pop("futility_after"), "reviews.futility_after"),
        ("iv-depression", lambda d: d["reviews"].update(futility_after=0), "reviews.futility_after"),
        ("iv-depression", lambda d: d.update(chair_minutes=2), "chair_minutes"),
        ("esketamine-trd", lambda d: d.update(dose=definition()["dose"]), "dose.kind"),
        ("esketamine-trd", lambda d: d["dose"].update(allowed_mg=[56, 112]), "dose.allowed_mg"),
        ("esketamine-trd", lambda d: d["dose"].update(allowed_mg=[56, 70]), "dose.allowed_mg"),
        ("esketamine-trd", lambda d: d["dose"].update(allowed_mg=[]), "dose.allowed_mg"),
        ("esketamine-trd", lambda d: d["dose"].update(first_dose_mg=28), "dose.first_dose_mg"),
        (
            "esketamine-trd",
            lambda d: d["dose"].update(older_adult_first_dose_mg=14),
            "dose.older_adult_first_dose_mg",
        ),
        ("esketamine-trd", lambda d: d["dose"].pop("older_adult_age"), "dose.older_adult_age"),
        (
            "esketamine-trd",
            lambda d: d["dose"].update(older_adult_allowed_mg=[28, 56, 84, 112]),
            "dose.older_adult_allowed_mg",
        ),
        ("esketamine-trd", lambda d: d["dose"].update(device_mg=None), "dose.device_mg"),
        ("sublingual-home", lambda d: d.update(dose=definition("esketamine-trd")["dose"]), "dose.kind"),
        ("iv-depression", lambda d: d.update(dose=definition("esketamine-trd")["dose"]), "dose.kind"),
        ("sublingual-home", lambda d: d["dose"].update(max_mg="130"), "dose.max_mg"),
        ("sublingual-home", lambda d: d["dose"].update(max_mg="110"), "dose.max_mg"),
        ("sublingual-home", lambda d: d["dose"].update(step_mg=None), "dose.step_mg"),
        ("sublingual-home", lambda d: d["dose"].update(strengths_mg=[]), "dose.strengths_mg"),
        ("sublingual-home", lambda d: d["dose"].update(strengths_mg=["40", "-10"]), "dose.strengths_mg[1]"),
        ("sublingual-home", lambda d: d["dose"].update(strengths_mg=["40", "25"]), "dose.strengths_mg"),
        ("sublingual-home", lambda d: d.pop("home"), "home"),
        ("sublingual-home", lambda d: d["home"].update(safeguards=[]), "home.safeguards"),
        ("sublingual-home", lambda d: d["home"].update(monitor_required="no"), "home.monitor_required"),
        ("sublingual-home", lambda d: d["home"].update(renew_every_sessions=0), "home.renew_every_sessions"),
        ("sublingual-home", lambda d: d.update(setting="clinic"), "setting"),
    ],
)
def test_a_bad_protocol_is_refused_naming_the_dotted_field(key, change, field):
    assert bad(change, key).field == field


def test_a_protocol_that_is_not_an_object_is_refused():
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(["iv"], version="1")  # type: ignore[arg-type]
    assert caught.value.field == "protocol"


def test_a_troche_protocol_whose_steps_cannot_be_made_says_which_dose():
    error = bad(lambda d: d["dose"].update(strengths_mg=["40", "25"]), "sublingual-home")
    assert "60 mg cannot be made" in error.message


def test_a_layout_that_cannot_fit_within_its_days_says_how_long_it_runs():
    error = bad(lambda d: d["phases"]["induction"].update(tolerance_days=2))
    assert error.message == "the sessions span 23 days with the tolerance; more than 21"


def test_a_clinic_edit_parses_into_a_new_version_with_its_own_numbers():
    data = definition()
    data["dose"]["cap_mg"] = "80"
    data["dose"]["verify"] = []
    edited = parse_protocol(data, version="clinic-2")
    assert edited.version == "clinic-2" and edited.dose.cap_mg == D(80)
    assert shipped("iv-depression").dose.cap_mg == D(100)

"""Issue 11, case 5: loose input never gives a wrong answer silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mbc_rules import Evaluation, Rulebase
from mbc_rules.bundled import bundled_rules_dir
from mbc_rules.facts import derive_facts
from mbc_rules.profile import PatientProfile, PriorTherapy

from .conftest import write_rules
from .test_rule_errors import GOOD_RULE


def test_case_5_nested_model_construct_brand_name_is_read_again(rulebase: Rulebase) -> None:
    unchecked = PriorTherapy.model_construct(agent="Femara", outcome="progressed")
    result = rulebase.evaluate({"er_status": "positive", "prior_therapies": [unchecked]})
    assert result.profile.prior_therapies is not None
    (therapy,) = result.profile.prior_therapies
    assert therapy.agent == "letrozole"
    checked = rulebase.evaluate(
        {
            "er_status": "positive",
            "prior_therapies": [{"agent": "letrozole", "outcome": "progressed"}],
        }
    )
    assert result.fired_rules == checked.fired_rules


def test_case_5_nested_model_construct_impossible_value_is_refused(rulebase: Rulebase) -> None:
    unchecked = PriorTherapy.model_construct(agent="letrozole", outcome="PROGRESSED")  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        rulebase.evaluate({"prior_therapies": [unchecked]})
    (error,) = caught.value.errors()
    assert error["loc"] == ("prior_therapies", 0, "outcome")
    assert error["input"] == "PROGRESSED"


def test_case_5_a_constructed_profile_is_read_again(rulebase: Rulebase) -> None:
    with pytest.raises(ValidationError, match="er_status"):
        rulebase.evaluate(PatientProfile.model_construct(er_status="HER2+"))  # type: ignore[arg-type]


def own_vocabulary_rulebase(directory: Path) -> Rulebase:
    """A rule set whose own vocabulary calls anastrozole 'arimidex' (an id, not a brand)."""
    vocabulary = (bundled_rules_dir() / "vocabulary.yaml").read_text(encoding="utf-8")
    renamed = vocabulary.replace(
        "  - id: anastrozole\n    name: anastrozole\n", "  - id: arimidex\n    name: arimidex\n"
    ).replace("brands: [Arimidex]", "brands: []")
    assert renamed.count("id: arimidex") == 1
    write_rules(directory, "vocabulary.yaml", renamed)
    write_rules(directory, "local.yaml", GOOD_RULE)
    return Rulebase.load(directory, engine="python")


def test_case_5_a_result_under_its_own_vocabulary_round_trips_through_json(
    tmp_path: Path,
) -> None:
    own = own_vocabulary_rulebase(tmp_path)
    result = own.evaluate(
        {
            "her2_status": "positive",
            "prior_therapies": [{"agent": "arimidex", "outcome": "progressed"}],
        }
    )
    assert result.profile.prior_therapies is not None
    assert result.profile.prior_therapies[0].agent == "arimidex"
    back = Evaluation.model_validate_json(result.model_dump_json())
    # Read back with the bundled vocabulary this used to become 'anastrozole' silently.
    assert back.profile.prior_therapies is not None
    assert back.profile.prior_therapies[0].agent == "arimidex"
    assert back == result
    assert back.model_dump_json() == result.model_dump_json()
    assert own.verify(back).verified


def test_case_5_a_stored_profile_is_still_checked(tmp_path: Path) -> None:
    text = Rulebase.bundled(engine="python").evaluate({}).model_dump_json()
    broken = text.replace('"er_status":"unknown"', '"er_status":"HER2+"')
    assert broken != text
    with pytest.raises(ValidationError, match="er_status"):
        Evaluation.model_validate_json(broken)


@pytest.mark.parametrize("agent", ["yoga", "palliative care", "clinical trial"])
def test_case_5_yoga_that_progressed_is_not_a_failed_line(rulebase: Rulebase, agent: str) -> None:
    base = {
        "er_status": "positive",
        "her2_status": "negative",
        "menopausal_status": "postmenopausal",
        "metastatic_sites": ["bone"],
        "prior_therapies": [],
    }
    with_it = {**base, "prior_therapies": [{"agent": agent, "outcome": "progressed"}]}
    facts = derive_facts(rulebase.read_profile(with_it), rulebase.vocabulary)
    assert facts["lines_failed"] == 0
    assert facts["treatment_failed"] is False
    assert rulebase.evaluate(with_it).fired_rules == rulebase.evaluate(base).fired_rules

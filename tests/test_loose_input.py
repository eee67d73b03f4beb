"""Issue 11, case 5: loose input never gives a wrong answer silently."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mbc_rules import Rulebase
from mbc_rules.profile import PatientProfile, PriorTherapy


def test_case_5_nested_model_construct_brand_name_is_read_again(rulebase: Rulebase) -> None:
    unchecked = PriorTherapy.model_construct(agent="Femara", outcome="progressed")
    result = rulebase.evaluate({"er_status": "positive", "prior_therapies": [unchecked]})
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
    unchecked = PriorTherapy.model_construct(agent="letrozole", outcome="PROGRESSED")
    with pytest.raises(ValidationError) as caught:
        rulebase.evaluate({"prior_therapies": [unchecked]})
    (error,) = caught.value.errors()
    assert error["loc"] == ("prior_therapies", 0, "outcome")
    assert error["input"] == "PROGRESSED"


def test_case_5_a_constructed_profile_is_read_again(rulebase: Rulebase) -> None:
    with pytest.raises(ValidationError, match="er_status"):
        rulebase.evaluate(PatientProfile.model_construct(er_status="POSITIVE"))

"""Why and why not: explanations name the rules, the conditions met and the one that failed."""

from __future__ import annotations

from pathlib import Path

import pytest

import mbc_rules
from mbc_rules import Evaluation, MbcRulesError, Rulebase, UnknownAgentError

from .conftest import write_rules
from .test_rule_errors import GOOD_RULE as LOCAL_RULE

AFTER_AI = {
    "er_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "prior_therapies": [{"agent": "letrozole", "outcome": "progressed"}],
}


def test_why_not_names_the_failed_condition_and_the_profile_value(rulebase: Rulebase) -> None:
    explanation = rulebase.explain(rulebase.evaluate(AFTER_AI), "alpelisib")
    assert not explanation.offered
    (rule,) = explanation.rules
    assert rule.rule_id == "alpelisib-pik3ca-after-aromatase-inhibitor"
    assert [(c.fact, c.actual) for c in rule.failed] == [("pik3ca_status", "unknown")]
    assert "needs pik3ca_status = positive; this profile's pik3ca_status is unknown" in str(
        explanation
    )


def test_once_the_condition_holds_the_same_rule_offers_it(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({**AFTER_AI, "pik3ca_status": "positive"})
    explanation = rulebase.explain(result, "Piqray")
    assert explanation.subject == "alpelisib"
    assert explanation.offered
    (rule,) = explanation.rules
    assert rule.fired
    assert {c.fact for c in rule.met} >= {"pik3ca_status", "aromatase_inhibitor_failed"}
    assert rule.citations[0].excerpt.startswith("Alpelisib is a targeted drug")


def test_a_category_lists_the_rules_that_offer_it_first(rulebase: Rulebase) -> None:
    explanation = rulebase.explain(rulebase.evaluate(AFTER_AI), "hormone_therapy")
    assert explanation.offered
    assert explanation.rank is not None
    fired = [r.fired for r in explanation.rules]
    assert fired == sorted(fired, reverse=True)
    first_line = next(r for r in explanation.rules if r.rule_id == "hr-positive-endocrine-first")
    assert not first_line.fired
    assert [(c.fact, c.actual) for c in first_line.failed] == [("endocrine_therapy_failed", True)]


def test_not_recommended_is_explained(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({"er_status": "negative", "pr_status": "negative"})
    explanation = rulebase.explain(result, "tamoxifen")
    assert explanation.not_recommended
    assert "hr-negative-no-hormone-therapy rules it out" in str(explanation)


def test_an_unknown_subject_suggests_names(bundled: Rulebase) -> None:
    result = bundled.evaluate(AFTER_AI)
    with pytest.raises(UnknownAgentError, match="alpelisib"):
        bundled.explain(result, "alpelisb")


def test_a_result_read_back_from_json_still_explains(bundled: Rulebase) -> None:
    result = bundled.evaluate(AFTER_AI)
    again = Evaluation.model_validate_json(result.model_dump_json())
    explanation = mbc_rules.explain(again, "alpelisib")
    assert explanation.model_dump_json() == bundled.explain(result, "alpelisib").model_dump_json()
    assert not explanation.offered


def test_a_result_of_another_rulebase_is_not_explained_with_this_one(
    bundled: Rulebase, tmp_path: Path
) -> None:
    write_rules(tmp_path, "local.yaml", LOCAL_RULE)
    local = Rulebase.load(tmp_path)
    result = local.evaluate({"her2_status": "positive"})
    with pytest.raises(MbcRulesError, match="another rulebase"):
        bundled.explain(result, "trastuzumab")
    assert local.explain(result, "trastuzumab").offered


HER2_POSITIVE = {"her2_status": "positive", "er_status": "negative", "pr_status": "negative"}


def test_every_offered_category_is_explained_at_its_own_rank(bundled: Rulebase) -> None:
    result = bundled.evaluate(HER2_POSITIVE)
    # A regimen member named "chemotherapy" sits in the rank-1 targeted option; the
    # chemotherapy category itself is ranked lower, and its explanation must say so.
    chemotherapy = result.option("chemotherapy")
    assert chemotherapy is not None
    assert chemotherapy.rank > 1
    for option in result.options:
        explanation = bundled.explain(result, option.category)
        assert explanation.offered
        assert explanation.rank == option.rank, option.category


def test_an_agent_is_explained_at_the_rank_of_the_first_option_naming_it(
    bundled: Rulebase,
) -> None:
    result = bundled.evaluate(HER2_POSITIVE)
    for option in result.options:
        for agent in option.agents:
            first = next(
                o
                for o in result.options
                if agent in o.agents or any(agent in r.agents for r in o.regimens)
            )
            assert bundled.explain(result, agent).rank == first.rank, agent


def test_a_rule_that_speaks_only_of_women_does_not_offer_for_a_man(bundled: Rulebase) -> None:
    profile = {
        "sex": "male",
        "brca_status": "positive",
        "her2_status": "negative",
        "er_status": "negative",
        "pr_status": "negative",
    }
    result = bundled.evaluate(profile)
    explanation = bundled.explain(result, "chemotherapy")
    rule = next(r for r in explanation.rules if r.rule_id == "brca-her2-negative-chemotherapy")
    assert rule.fired
    assert not rule.counted
    assert "brca-her2-negative-chemotherapy offers it" not in explanation.text
    assert "brca-her2-negative-chemotherapy fired, but its sources speak only of women" in str(
        explanation
    )
    woman = bundled.evaluate({**profile, "sex": "female"})
    assert next(
        r for r in bundled.explain(woman, "chemotherapy").rules if r.rule_id == rule.rule_id
    ).counted

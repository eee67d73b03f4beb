"""RuleSet: the validated rules as one frozen value, and a rulebase made over it."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from mbc_rules import Rulebase
from mbc_rules.ruleset import RuleSet


def test_a_rule_set_cannot_be_changed(bundled: Rulebase) -> None:
    ruleset = bundled.ruleset
    with pytest.raises(dataclasses.FrozenInstanceError):
        ruleset.version = "edited"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ruleset.sources["acs"] = ruleset.sources["ysc"]  # type: ignore[index]
    assert isinstance(ruleset.rules, tuple)
    assert isinstance(ruleset.statements, tuple)
    assert ruleset.rules_by_id[ruleset.rules[0].id] is ruleset.rules[0]


def test_a_rule_set_holds_what_the_rulebase_holds(bundled: Rulebase) -> None:
    ruleset = bundled.ruleset
    assert ruleset.rules == bundled.rules
    assert dict(ruleset.sources) == bundled.sources
    assert ruleset.vocabulary is bundled.vocabulary
    assert ruleset.statements == bundled.coverage
    assert (ruleset.version, ruleset.content_hash) == (bundled.version, bundled.content_hash)
    assert len(ruleset.statements) > 50


def test_a_rule_set_pickles_and_is_equal_by_its_hash(bundled: Rulebase) -> None:
    again = pickle.loads(pickle.dumps(bundled.ruleset))
    assert again == bundled.ruleset
    assert hash(again) == hash(bundled.ruleset)
    assert again.rules == bundled.rules
    other = dataclasses.replace(bundled.ruleset, content_hash="0" * 64)
    assert other != bundled.ruleset


def test_a_rulebase_over_a_rule_set_answers_as_the_original(bundled: Rulebase) -> None:
    made = Rulebase.from_ruleset(bundled.ruleset, engine="compiled")
    assert made.engine == "compiled"
    assert made.ruleset == bundled.ruleset
    profile = {"er_status": "positive", "her2_status": "negative", "prior_therapies": []}
    assert made.evaluate(profile).digest == bundled.evaluate(profile).digest


def test_a_caller_dict_changes_no_rule_set(bundled: Rulebase) -> None:
    sources = dict(bundled.sources)
    ruleset = RuleSet(
        sources=sources,
        vocabulary=bundled.vocabulary,
        rules=bundled.rules,
        statements=(),
        version="v",
        content_hash="h",
    )
    sources.clear()
    assert set(ruleset.sources) == set(bundled.sources)

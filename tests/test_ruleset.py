"""RuleSet: the validated rules as one frozen value, and a rulebase made over it."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from mbc_rules import Rulebase
from mbc_rules.ruleset import RuleSet

from .conftest import RULES_DIR


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


def test_validation_produces_the_rule_set_the_rulebase_is_built_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mbc_rules import validate as validate_module

    produced: list[tuple[RuleSet, validate_module.Locations]] = []
    real = validate_module.validate_files

    def kept(*args: Any) -> Any:
        produced.append(real(*args))
        return produced[-1]

    monkeypatch.setattr(validate_module, "validate_files", kept)
    loaded = Rulebase.load(RULES_DIR, engine="python")
    ((ruleset, locations),) = produced
    assert loaded.ruleset is ruleset
    assert loaded.rules is ruleset.rules
    assert loaded.coverage is ruleset.statements
    assert set(locations.rules) == set(ruleset.rules_by_id)
    assert set(locations.statements) == {s.id for s in ruleset.statements}
    # What a rulebase pickles is its rule set and the engine's name, nothing else.
    assert loaded.__getstate__() == {"ruleset": ruleset, "engine": "python"}


def test_the_cache_gives_back_only_a_rule_set_of_the_hash_asked_for(
    bundled: Rulebase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mbc_rules import cache

    monkeypatch.setenv("MBC_RULES_CACHE", str(tmp_path / "cache"))
    ruleset = bundled.ruleset
    cache.remember_checked(ruleset)
    assert cache.read_checked(ruleset.content_hash, RuleSet) == ruleset
    assert cache.read_checked("0" * 64, RuleSet) is None
    (entry,) = (tmp_path / "cache").glob("checked-*.pickle")
    entry.write_bytes(pickle.dumps({"content_hash": ruleset.content_hash}))
    assert cache.read_checked(ruleset.content_hash, RuleSet) is None  # not a rule set: a miss

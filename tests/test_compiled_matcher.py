"""The compiled matcher writes only validated fact names and plain literals into its code."""

from __future__ import annotations

import pytest

from mbc_rules import Rulebase
from mbc_rules.compile import CompiledRuleset
from mbc_rules.engine.compiled import CompiledMatcher, generate_source
from mbc_rules.errors import EngineError
from mbc_rules.facts import FACTS
from mbc_rules.schema import FactTest


def _ruleset(*tests: FactTest) -> CompiledRuleset:
    ids = tuple(f"r{i}" for i in range(len(tests)))
    return CompiledRuleset(ids, tuple({} for _ in tests), tests)


def test_an_operand_that_looks_like_code_stays_a_string() -> None:
    hostile = "positive' or __import__('os').system('false') or '"
    # The schema would refuse it (not a status); built past it, it is still only text.
    matcher = CompiledMatcher(_ruleset(FactTest.model_construct(fact="er_status", equals=hostile)))
    assert repr(hostile) in matcher.source
    facts = dict.fromkeys(FACTS, "positive")
    assert matcher.match(facts) == frozenset()
    assert matcher.match({**facts, "er_status": hostile}) == frozenset({"r0"})


def test_an_unknown_fact_or_a_foreign_operand_is_refused() -> None:
    with pytest.raises(EngineError, match="unknown fact"):
        generate_source(_ruleset(FactTest.model_construct(fact="x']; import os; y=['", equals=1)))

    class Sly(str):
        def __repr__(self) -> str:
            return "__import__('os')"

    with pytest.raises(EngineError, match="operand"):
        generate_source(_ruleset(FactTest.model_construct(fact="er_status", equals=Sly("a"))))


def test_the_bundled_rules_compile_and_agree_with_the_plain_python_matcher() -> None:
    compiled = Rulebase.bundled(engine="compiled")
    python = Rulebase.bundled(engine="python")
    assert compiled.engine == "compiled"
    profile = {"er_status": "pos", "her2_status": "neg", "metastatic_sites": ["bone", "liver"]}
    assert compiled.fired_rules(profile) == python.fired_rules(profile)

"""The compiled matcher writes only validated fact names and plain literals into its code."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Rulebase
from mbc_rules.compile import CompiledRuleset
from mbc_rules.engine.compiled import CompiledMatcher, CompiledWaiting, generate_source
from mbc_rules.errors import EngineError
from mbc_rules.facts import FACTS, FactValue, derive_facts
from mbc_rules.rank import holds_but_for_timing, waiting_rules
from mbc_rules.schema import Condition, FactTest

from .strategies import random_profile
from .test_conditions import all_facts, conditions


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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(conditions, min_size=1, max_size=6),
    st.lists(all_facts, min_size=1, max_size=4),
    st.sets(st.integers(0, 5)),
)
def test_the_compiled_waiting_rules_read_conditions_as_holds_but_for_timing(
    rules: list[Condition], cases: list[dict[str, FactValue]], fired_at: set[int]
) -> None:
    ids = [f"rule-{index}" for index in range(len(rules))]
    fired = frozenset(ids[i] for i in fired_at if i < len(ids))
    waiting = CompiledWaiting(ids, rules)
    for facts in cases:
        expected = {
            rule_id
            for rule_id, condition in zip(ids, rules, strict=True)
            if rule_id not in fired and holds_but_for_timing(condition, facts)
        }
        assert waiting(facts, fired) == expected


def test_the_bundled_rulebase_finds_the_waiting_rules_of_rank() -> None:
    rulebase = Rulebase.bundled(engine="compiled")
    rng = random.Random(12)
    found = 0
    for profile in [random_profile(rng) for _ in range(1500)]:
        facts = derive_facts(rulebase.read_profile(profile), rulebase.vocabulary)
        fired = rulebase._matcher.match(facts)
        expected = waiting_rules(rulebase._timed, facts, fired)
        assert rulebase._waiting(facts, fired) == expected
        found += bool(expected)
    assert found > 100  # the profiles do reach rules that wait on the history

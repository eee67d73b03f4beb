"""One meaning for a condition: every reading of the language agrees with ``conditions``.

Conditions and facts are generated (every operator, ``always``, ``not`` at any depth), then the
durable-rules compiler, the columnar masks, the trace and the explanations are each checked
against ``conditions.holds``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from mbc_rules import Rulebase
from mbc_rules.cohort.columnar import ColumnarEngine
from mbc_rules.compile import compile_conditions
from mbc_rules.conditions import Trace, deciding, holds, negation, passes, read, trace
from mbc_rules.engine import make_matcher
from mbc_rules.explain import condition_text
from mbc_rules.facts import FACTS, FactValue
from mbc_rules.schema import Condition

from .conftest import ENGINES, write_rules

CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)
# A handful of facts of each kind keeps collisions (two tests of one fact) frequent.
STATUS_FACTS = sorted(n for n, d in FACTS.items() if d.kind == "status")[:4]
FLAG_FACTS = sorted(n for n, d in FACTS.items() if d.kind == "flag")[:3]
COUNT_FACTS = sorted(n for n, d in FACTS.items() if d.kind == "count")[:2]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fact_value(name: str) -> st.SearchStrategy[FactValue]:
    definition = FACTS[name]
    if definition.kind == "status":
        return st.sampled_from(definition.values)
    if definition.kind == "flag":
        return st.booleans()
    return st.integers(0, 4)


@st.composite
def fact_tests(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from([*STATUS_FACTS, *FLAG_FACTS, *COUNT_FACTS]))
    if FACTS[name].kind == "count":
        operator = draw(st.sampled_from(["at_least", "at_most"]))
        return {"fact": name, operator: draw(st.integers(0, 4))}
    operator = draw(st.sampled_from(["equals", "not_equals", "in", "not_in"]))
    if operator in ("in", "not_in"):
        return {"fact": name, operator: draw(st.lists(fact_value(name), min_size=1, max_size=3))}
    return {"fact": name, operator: draw(fact_value(name))}


def _junctions(parts: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    many = st.lists(parts, min_size=1, max_size=3)
    return st.one_of(
        many.map(lambda p: {"all": p}),
        many.map(lambda p: {"any": p}),
        parts.map(lambda p: {"not": p}),
    )


# ``always`` as one leaf in four: nested and negated too, which only code (never a rule file)
# can write, so that every reading agrees on it wherever it stands.
ALWAYS: dict[str, Any] = {"always": True}
leaves = st.one_of(fact_tests(), fact_tests(), fact_tests(), st.just(ALWAYS))
conditions = st.recursive(leaves, _junctions, max_leaves=8).map(CONDITION.validate_python)
all_facts = st.fixed_dictionaries(
    {name: fact_value(name) for name in [*STATUS_FACTS, *FLAG_FACTS, *COUNT_FACTS]}
)


def _nodes(node: Trace) -> list[Trace]:
    return [node, *(n for part in node.parts for n in _nodes(part))]


@SETTINGS
@given(conditions, all_facts)
def test_the_trace_gives_the_verdict_of_every_node(
    condition: Condition, facts: dict[str, FactValue]
) -> None:
    traced = trace(condition, facts)
    assert traced.held == holds(condition, facts)
    for node in _nodes(traced):
        if node.test is not None:
            test = node.test
            assert node.held is test.held
            assert test.held == passes(test.operator, test.operand, facts[test.fact])
        elif node.kind == "not":
            assert node.held is not node.parts[0].held
        elif node.kind == "always":
            assert node.held
            assert not node.parts
        elif node.kind == "all":
            assert node.held == all(p.held for p in node.parts)
        else:
            assert node.held == any(p.held for p in node.parts)


@SETTINGS
@given(conditions, all_facts)
def test_negation_pushed_down_keeps_every_verdict(
    condition: Condition, facts: dict[str, FactValue]
) -> None:
    readback = read(trace(condition, facts))
    assert readback.held == holds(condition, facts)
    for node in _nodes(readback):
        assert node.kind != "not"
        if node.test is not None:
            # The negated test is read afresh: "not at least 2" must be "at most 1".
            test = node.test
            assert node.held is test.held
            assert test.held == passes(test.operator, test.operand, facts[test.fact])
        elif node.kind in ("always", "never"):
            # "not always" reads as never: it holds for no one.
            assert node.held == (node.kind == "always")
            assert not node.parts
        elif node.kind == "all":
            assert node.held == all(p.held for p in node.parts)
        else:
            assert node.held == any(p.held for p in node.parts)


def _tests_no_fact(node: Trace) -> bool:
    return node.test is None and all(_tests_no_fact(p) for p in node.parts)


@SETTINGS
@given(conditions, all_facts)
def test_the_deciding_tests_explain_the_verdict(
    condition: Condition, facts: dict[str, FactValue]
) -> None:
    verdict = holds(condition, facts)
    traced = trace(condition, facts)
    readings = deciding(traced)
    # No test decides a verdict only where an always (or a never, under a not) settles it.
    assert readings or any(_tests_no_fact(n) and n.kind != "not" for n in _nodes(read(traced)))
    for reading in readings:
        assert reading.held is verdict
        assert reading.held == passes(reading.operator, reading.operand, facts[reading.fact])


@pytest.mark.parametrize(("k", "actual"), [(2, 1), (2, 2), (2, 3), (0, 0)])
def test_not_at_least_reads_as_at_most_one_less(k: int, actual: int) -> None:
    assert negation("at_least", k) == ("at_most", k - 1)
    assert negation("at_most", k) == ("at_least", k + 1)
    assert passes("at_most", k - 1, actual) is not passes("at_least", k, actual)
    assert passes("at_least", k + 1, actual) is not passes("at_most", k, actual)


def test_an_any_reads_as_or_and_a_not_as_its_negation() -> None:
    condition = CONDITION.validate_python(
        {
            "all": [
                {"fact": "er_status", "equals": "positive"},
                {
                    "any": [
                        {"fact": "pik3ca_status", "equals": "positive"},
                        {"not": {"fact": "endocrine_classes_failed", "at_least": 2}},
                    ]
                },
            ]
        }
    )
    facts: dict[str, FactValue] = {
        "er_status": "positive",
        "pik3ca_status": "unknown",
        "endocrine_classes_failed": 3,
    }
    text = condition_text(trace(condition, facts))
    assert text == (
        "er_status = positive [met: positive] and (pik3ca_status = positive [not met: unknown]"
        " or endocrine_classes_failed ≤ 1 [not met: 3])"
    )


ENGINES_TO_CHECK = [e for e in ENGINES if e != "python"]


@pytest.mark.skipif(not ENGINES_TO_CHECK, reason="only the reference engine imports here")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conditions, min_size=1, max_size=6), st.lists(all_facts, min_size=1, max_size=4))
def test_the_compiled_engines_agree_with_the_reference(
    rules: list[Condition], cases: list[dict[str, FactValue]]
) -> None:
    ids = [f"rule-{index}" for index in range(len(rules))]
    compiled = compile_conditions(ids, rules)
    for engine in ENGINES_TO_CHECK:
        matcher = make_matcher(compiled, engine)  # type: ignore[arg-type]
        for facts in cases:
            expected = {i for i, c in zip(ids, rules, strict=True) if holds(c, facts)}
            assert matcher.match(facts) == expected


@pytest.fixture(scope="module")
def columnar() -> ColumnarEngine:
    return ColumnarEngine(Rulebase.bundled(engine="python"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conditions, min_size=1, max_size=6), st.lists(all_facts, min_size=1, max_size=4))
def test_the_columnar_masks_agree_with_the_reference(
    columnar: ColumnarEngine, rules: list[Condition], cases: list[dict[str, FactValue]]
) -> None:
    import numpy as np

    columnar.conditions = tuple(rules)
    # The engine's own numbering of each fact's distinct values, as a chunk of rows uses it.
    facts = {
        name: (
            np.array([columnar._value_code(name, case[name]) for case in cases], dtype=np.int64),
            columnar._values[name],
        )
        for name in cases[0]
    }
    fired = columnar.masks(facts, len(cases))
    for row, case in enumerate(cases):
        assert list(fired[row]) == [holds(c, case) for c in rules]


ANY_AND_NOT_RULE = """\
rules:
  - id: any-and-not
    title: Alpelisib when PIK3CA is mutated or few endocrine lines were given.
    when:
      all:
        - {fact: hormone_receptor_status, equals: positive}
        - any:
            - {fact: pik3ca_status, equals: positive}
            - not: {fact: endocrine_classes_failed, at_least: 1}
    then:
      offer: {category: targeted_therapy, tier: option, agents: [alpelisib]}
    citations:
      - acs-her2-positive-pertuzumab-1
    examples:
      - profile: {er_status: positive, pik3ca_status: positive}
        fires: true
"""


def test_an_explanation_reads_back_the_evaluators_trace(tmp_path: Path) -> None:
    write_rules(tmp_path, "local.yaml", ANY_AND_NOT_RULE)
    rulebase = Rulebase.load(tmp_path, engine="python")
    profile = {
        "er_status": "positive",
        "prior_therapies": [{"agent": "letrozole", "outcome": "progressed"}],
    }
    result = rulebase.evaluate(profile)
    (rule,) = rulebase.explain(result, "alpelisib").rules
    assert not rule.fired
    # Both alternatives of the any failed: the rule needed one OR the other.
    assert [(c.fact, c.operator, c.expected, c.met) for c in rule.failed] == [
        ("pik3ca_status", "equals", "positive", False),
        ("endocrine_classes_failed", "at_most", 0, False),
    ]
    assert " or " in rule.needs
    assert " and " not in rule.needs
    assert rule.needs.index("pik3ca_status") < rule.needs.index("endocrine_classes_failed ≤ 0")
    fired = rulebase.explain(rulebase.evaluate({**profile, "pik3ca_status": "positive"}), "Piqray")
    (rule,) = fired.rules
    assert rule.fired
    assert [c.fact for c in rule.met] == ["hormone_receptor_status", "pik3ca_status"]

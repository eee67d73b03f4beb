"""Plain words: no rule vocabulary ever reaches the reader, whatever the fact or operator."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

import mbc_rules
from mbc_rules import Rulebase
from mbc_rules.conditions import Operator
from mbc_rules.facts import FACTS
from mbc_rules.result import Names
from mbc_rules.wording import (
    OPERATOR_SYMBOLS,
    agent_name,
    agent_with_class,
    condition_words,
    fact_test_text,
    read_fact_test_text,
    regimen_words,
    requirement,
    state,
)

RULE_VOCABULARY = re.compile(r"[a-z]+_[a-z]+|[≤≥≠=]|\btrue\b|\bfalse\b")


def _tests(fact: str) -> list[tuple[str, object]]:
    definition = FACTS[fact]
    if definition.kind == "count":
        return [("at_least", 1), ("at_least", 2), ("at_most", 0), ("at_most", 1)]
    if definition.kind == "flag":
        return [("equals", True), ("equals", False), ("not_equals", True)]
    values = list(definition.values)
    return [
        *[("equals", v) for v in values],
        *[("not_equals", v) for v in values],
        ("in", tuple(values[:2])),
        ("not_in", tuple(values[:2])),
    ]


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_every_test_of_every_fact_reads_in_plain_words(fact: str) -> None:
    for operator, operand in _tests(fact):
        said = requirement(fact, operator, operand)
        assert said
        assert not RULE_VOCABULARY.search(said), (fact, operator, operand, said)


def test_every_operator_of_the_condition_language_has_its_symbol() -> None:
    assert set(OPERATOR_SYMBOLS) == set(get_args(Operator))
    assert len(set(OPERATOR_SYMBOLS.values())) == len(OPERATOR_SYMBOLS)


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_a_fact_test_written_in_the_rules_terms_reads_back_as_itself(fact: str) -> None:
    # What rank writes into AgreementCondition.condition, the report reads back: one table
    # of symbols both ways, so the text can never drift from its reading.
    for operator, operand in _tests(fact):
        text = fact_test_text(fact, operator, operand)
        assert read_fact_test_text(text) == (fact, operator, operand), text
        assert condition_words(text) == requirement(fact, operator, operand)


def test_no_module_but_wording_writes_the_operator_symbols() -> None:
    package = Path(mbc_rules.__file__).parent
    symbols = set(OPERATOR_SYMBOLS.values()) - {"in", "not in", "="}
    found = [
        f"{path.relative_to(package)}:{node.lineno} {node.value!r}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "wording.py" or path.parent != package
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in symbols
    ]
    assert found == []


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_every_value_of_every_fact_reads_in_plain_words(fact: str) -> None:
    definition = FACTS[fact]
    values: list[object] = (
        [0, 1, 3]
        if definition.kind == "count"
        else [True, False]
        if definition.kind == "flag"
        else list(definition.values)
    )
    for value in values:
        said = state(fact, value, None, None)  # type: ignore[arg-type]
        assert not RULE_VOCABULARY.search(said), (fact, value, said)


def test_an_any_of_values_reads_with_or() -> None:
    said = requirement("hormone_receptor_status", "in", ("positive", "unknown"))
    assert said == (
        "hormone receptor positive (ER or PR positive) or hormone receptor status not known"
    )


def test_the_history_names_the_drug_and_its_class() -> None:
    rulebase = Rulebase.bundled()
    profile = rulebase.read_profile(
        {"prior_therapies": [{"agent": "Femara", "outcome": "progressed"}]}
    )
    said = state("aromatase_inhibitor_failed", True, profile, rulebase.vocabulary)
    assert said == "the cancer grew on letrozole, a non-steroidal aromatase inhibitor"
    assert (
        agent_with_class("letrozole", rulebase.vocabulary)
        == "letrozole, a non-steroidal aromatase inhibitor"
    )


def test_class_placeholders_read_as_classes() -> None:
    vocabulary = Rulebase.bundled().vocabulary
    assert agent_name("cdk4_6_inhibitor", vocabulary) == "a CDK4/6 inhibitor"
    assert agent_name("aromatase_inhibitor", vocabulary) == "an aromatase inhibitor"
    assert agent_name("mtor_inhibitor", vocabulary) == "an mTOR inhibitor"
    assert agent_name("hormone_therapy", vocabulary) == "hormone therapy"
    assert agent_name("letrozole", vocabulary) == "letrozole"


def test_a_class_after_a_drug_of_it_reads_as_another_of_it() -> None:
    # ACS: trastuzumab "given along with chemo or with other medications such as hormonal
    # therapy or other anti-HER2 drugs": the class placeholder after trastuzumab is another.
    rulebase = Rulebase.bundled()
    vocabulary = rulebase.vocabulary
    said = regimen_words(("trastuzumab", "anti_her2_therapy"), vocabulary)
    assert said == "trastuzumab with another HER2-targeted drug"
    assert regimen_words(("trastuzumab", "hormone_therapy"), vocabulary) == (
        "trastuzumab with hormone therapy"
    )
    assert regimen_words(("palbociclib", "aromatase_inhibitor"), vocabulary) == (
        "palbociclib with an aromatase inhibitor"
    )
    assert regimen_words(("pertuzumab", "chemotherapy", "trastuzumab"), vocabulary) == (
        "pertuzumab with chemotherapy and trastuzumab"
    )
    result = rulebase.evaluate(
        {"er_status": "negative", "pr_status": "negative", "her2_status": "positive"}
    )
    regimens = [r.name for o in result.options for r in o.regimens]
    assert "trastuzumab with another HER2-targeted drug" in regimens
    assert "trastuzumab with another HER2-targeted drug" in str(result)
    assert "with anti-HER2 therapy" not in str(result)


def test_an_unknown_history_reads_as_not_given_never_as_none() -> None:
    from mbc_rules import PatientProfile
    from mbc_rules.wording import patient_facts

    unknown = PatientProfile.model_construct(
        **{**PatientProfile().model_dump(), "prior_therapies": None, "complications": None}
    )
    rows = dict(patient_facts(unknown, Names()))
    assert rows["treatment history"] == "not given"
    assert rows["complications"] == "not given"
    assert "progressed on" not in rows
    none = dict(patient_facts(PatientProfile(prior_therapies=[], complications=[]), Names()))
    assert none["progressed on"] == "nothing reported"

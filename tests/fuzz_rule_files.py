"""Rule-file fuzzer (issue 11, case 7), run in its own process by ``test_rule_file_fuzz``.

Rule files are built from the schema (conditions of every kind over every fact, valid and
invalid operands, sometimes a wrong example, sometimes a broken structure). Each either loads,
and then both engines evaluate profiles without error and agree, or fails with problems that
each name their file. Anything else (an unlocated exception, a crash, a hang) fails the run: a
crash or a hang shows as the process's exit status, which is why this runs in a child.

Usage: ``python -m tests.fuzz_rule_files MAX_EXAMPLES``; prints one JSON line of counts.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Rulebase, RulebaseError
from mbc_rules.engine import _import_durable
from mbc_rules.facts import FACTS

from .strategies import profiles

DURABLE = _import_durable() is not None
COUNTS = {"loaded": 0, "refused": 0, "refused_by_durable": 0, "evaluations": 0}
CITATION = "acs-her2-positive-pertuzumab-1"


def _operands(name: str) -> st.SearchStrategy[dict[str, Any]]:
    definition = FACTS[name]
    if definition.kind == "count":
        number = st.integers(-2, 8)
        return st.one_of(
            st.builds(lambda n: {"at_least": n}, number),
            st.builds(lambda n: {"at_most": n}, number),
            st.builds(lambda n: {"equals": n}, number),
        )
    values: st.SearchStrategy[Any] = (
        st.booleans() if definition.kind == "flag" else st.sampled_from(definition.values)
    )
    return st.one_of(
        st.builds(lambda v: {"equals": v}, values),
        st.builds(lambda v: {"not_equals": v}, values),
        st.builds(lambda v: {"in": v}, st.lists(values, min_size=1, max_size=3)),
        st.builds(lambda v: {"not_in": v}, st.lists(values, min_size=1, max_size=3)),
    )


FACT_NAMES = sorted(FACTS)
FACT_TESTS = st.sampled_from(FACT_NAMES).flatmap(
    lambda name: _operands(name).map(lambda operand: {"fact": name, **operand})
)
BROKEN_TESTS = st.one_of(
    st.builds(lambda v: {"fact": "no_such_fact", "equals": v}, st.text(max_size=5)),
    st.builds(lambda n: {"fact": "her2_status", "at_least": n}, st.integers()),
    st.just({"fact": "lines_failed"}),
    st.just({"fact": "her2_status", "equals": "positive", "not_equals": "negative"}),
    st.just({"any": []}),
    st.just({"not": [1, 2]}),
)
CONDITIONS = st.recursive(
    st.one_of(*[FACT_TESTS] * 15, BROKEN_TESTS),
    lambda inner: st.one_of(
        st.builds(lambda parts: {"all": parts}, st.lists(inner, min_size=1, max_size=4)),
        st.builds(lambda parts: {"any": parts}, st.lists(inner, min_size=1, max_size=4)),
        st.builds(lambda part: {"not": part}, inner),
    ),
    max_leaves=8,
)


@st.composite
def rule_files(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 6))
    rules = []
    for index in range(count):
        examples = draw(st.lists(profiles(), min_size=1, max_size=2))
        for example in examples:
            example.pop("patient_id", None)
        rule: dict[str, Any] = {
            "id": f"fuzz-{index}",
            "title": "A fuzzed rule.",
            "when": draw(CONDITIONS),
            "then": {
                "offer": {
                    "category": "targeted_therapy",
                    "tier": "option",
                    "agents": ["trastuzumab"],
                }
            },
            "citations": [CITATION],
            "examples": [{"profile": e, "fires": True} for e in examples],
        }
        damage = draw(st.sampled_from(["none"] * 24 + ["key", "type", "missing"]))
        if damage == "key":
            rule["colour"] = "red"
        elif damage == "type":
            rule["when"] = draw(st.sampled_from([[], "her2", 3, None]))
        elif damage == "missing":
            del rule["citations"]
        rules.append(rule)
    return rules


def _located(error: RulebaseError) -> None:
    assert error.problems, "a RulebaseError without problems"
    for problem in error.problems:
        assert problem.file is not None, f"unlocated problem: {problem}"
        assert str(problem).startswith(str(problem.file)), str(problem)


def _correct_examples(rules: list[dict[str, Any]], directory: Path) -> None:
    """Set each example's ``fires`` to what the reference engine says (most of the time)."""
    path = directory / "fuzz.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
    try:
        draft = Rulebase.load(directory, engine="python", check_examples=False)
    except RulebaseError:
        return
    for rule in rules:
        for example in rule["examples"]:
            example["fires"] = rule["id"] in draft.fired_rules(example["profile"])


@given(
    rules=rule_files(),
    correct=st.sampled_from([True, True, True, False]),
    later=st.lists(profiles(), min_size=1, max_size=5),
)
def check(rules: list[dict[str, Any]], correct: bool, later: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        if correct:
            _correct_examples(rules, directory)
        (directory / "fuzz.yaml").write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
        try:
            python = Rulebase.load(directory, engine="python")
        except RulebaseError as error:
            _located(error)
            COUNTS["refused"] += 1
            if "FUZZ_DEBUG" in os.environ:
                print(error.problems[0].message, file=sys.stderr)
            return
        COUNTS["loaded"] += 1
        engines = [python]
        if DURABLE:
            refusal: RulebaseError | None = None
            try:
                engines.append(Rulebase.load(directory, engine="durable"))
            except RulebaseError as error:
                refusal = error
            if refusal is not None:
                # durable-rules may refuse what the reference engine runs, but only for its
                # limits, each located and pointing to engine="python".
                _located(refusal)
                assert all('engine="python"' in p.message for p in refusal.problems), refusal
                COUNTS["refused_by_durable"] += 1
        for profile in later:
            profile.pop("patient_id", None)
            answers = [rulebase.evaluate(profile).fired_rules for rulebase in engines]
            COUNTS["evaluations"] += 1
            assert all(a == answers[0] for a in answers), (profile, answers)


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    run = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )(check)
    run()
    print(json.dumps(COUNTS))


if __name__ == "__main__":
    main()

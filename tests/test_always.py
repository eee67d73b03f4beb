"""``always: true``: a condition that holds for every patient, on every engine.

It takes only true, and only as a rule's whole ``when``; anything else is refused at load with
the file, line, rule id and what was written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Rulebase, evaluate_frame
from mbc_rules.cohort.frames import columnar_trace

from .conftest import ENGINES, write_rules
from .strategies import profiles
from .test_rule_errors import load_errors

FOR_EVERYONE = """\
rules:
  - id: local-for-everyone
    title: A trial for everyone.
    when:
      always: true
    then:
      offer:
        category: clinical_trial
        tier: situational
        agents: [clinical_trial_enrollment]
    citations:
      - pdq-clinical-trials-2
    examples:
      - profile: {}
        fires: true
"""


@pytest.mark.parametrize(
    ("written", "shown"), [("false", "false"), ("1", "1"), ('"yes"', '"yes"'), ("null", "null")]
)
def test_always_takes_only_true(tmp_path: Path, written: str, shown: str) -> None:
    error = load_errors(tmp_path, FOR_EVERYONE.replace("always: true", f"always: {written}"))
    (problem,) = error.problems
    assert problem.file == tmp_path / "local.yaml"
    assert problem.line == 5  # the line of "always:"
    assert problem.rule_id == "local-for-everyone"
    assert f"always takes only true, not {shown}" in problem.message


@pytest.mark.parametrize(
    ("when", "where"),
    [
        ("not: {always: true}", "when.not"),
        ("all: [{always: true}, {fact: sex, equals: male}]", "when.all[0]"),
        ("any: [{fact: sex, equals: male}, {not: {always: true}}]", "when.any[1].not"),
    ],
)
def test_always_stands_only_as_the_whole_condition(tmp_path: Path, when: str, where: str) -> None:
    error = load_errors(tmp_path, FOR_EVERYONE.replace("always: true", when))
    (problem,) = error.problems
    assert problem.file == tmp_path / "local.yaml"
    assert problem.line == 5  # where the condition under "when:" begins
    assert problem.rule_id == "local-for-everyone"
    assert f"not at {where}" in problem.message


@pytest.fixture(scope="module")
def for_everyone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rulebase]:
    directory = tmp_path_factory.mktemp("always")
    write_rules(directory, "local.yaml", FOR_EVERYONE)
    return {engine: Rulebase.load(directory, engine=engine) for engine in ENGINES}  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(profiles(), min_size=1, max_size=10))
def test_always_holds_for_every_profile_on_every_engine(
    for_everyone: dict[str, Rulebase], batch: list[dict[str, object]]
) -> None:
    for engine, rulebase in for_everyone.items():
        for profile in batch:
            assert "local-for-everyone" in rulebase.evaluate(profile).fired_rules, engine
    reference = for_everyone[ENGINES[-1]]
    out = evaluate_frame(pd.DataFrame(batch), rulebase=reference, verify=0)
    assert out.errors.empty
    for row in columnar_trace(pd.DataFrame(batch), reference):
        assert row is not None
        assert "local-for-everyone" in row[1]


def test_the_bundled_rules_for_everyone_fire_for_an_empty_profile(bundled: Rulebase) -> None:
    # The four-path agreement tests run the bundled rules: these keep always among them.
    everyone = [r.id for r in bundled.rules if r.when.__class__.__name__ == "Always"]
    assert "palliative-care-alongside" in everyone
    assert set(everyone) <= set(bundled.evaluate({}).fired_rules)


def test_an_explanation_says_always(for_everyone: dict[str, Rulebase]) -> None:
    rulebase = for_everyone["python"]
    (rule,) = rulebase.explain(rulebase.evaluate({}), "clinical_trial_enrollment").rules
    assert rule.fired
    assert rule.condition == "always (every patient) [met]"
    assert rule.met == ()
    assert rule.said == "applies to everyone"

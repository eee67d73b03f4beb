"""Informative tests: the unknown statuses whose value would change an evaluation's answer.

Each status the profile leaves unknown is tried at each of its known values, and the answers
are compared. The statuses are read from the profile model itself (every field whose values
are a closed set that includes ``unknown`` and that a test of the tumour or of the patient
settles), so a status added to the profile is tried without a change here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import get_args

from mbc_rules.profile import PatientProfile
from mbc_rules.rank import cite
from mbc_rules.result import Evaluation, InformativeTest, RankChange, TestOutcome
from mbc_rules.schema import Rule, Source
from mbc_rules.vocabulary import MenopausalStatus, Status

# The value types of the fields a test settles: receptor and mutation statuses, menopause.
_TESTED_TYPES: tuple[object, ...] = (Status, MenopausalStatus)
# Advice topics whose citations ground the informative tests (test the tumour, biopsy it).
TEST_ADVICE = frozenset({"biopsy_metastasis", "tumour_testing"})


def tested_statuses() -> dict[str, tuple[str, ...]]:
    """Each profile field a test settles, with the values it may take other than unknown."""
    return {
        name: tuple(v for v in get_args(field.annotation) if v != "unknown")
        for name, field in PatientProfile.model_fields.items()
        if field.annotation in _TESTED_TYPES
    }


STATUS_VALUES: Mapping[str, tuple[str, ...]] = tested_statuses()


def _all_agents(evaluation: Evaluation) -> set[str]:
    agents: set[str] = set()
    for option in evaluation.options:
        agents.update(option.agents)
        agents.update(a for regimen in option.regimens for a in regimen.agents)
    return agents


def _outcome(value: str, now: Evaluation, then: Evaluation) -> TestOutcome:
    before = {o.category: o for o in now.options}
    after = {o.category: o for o in then.options}
    now_agents, then_agents = _all_agents(now), _all_agents(then)
    return TestOutcome(
        value=value,
        options_appear=tuple(c for c in after if c not in before),
        options_disappear=tuple(c for c in before if c not in after),
        rank_changes=tuple(
            RankChange(category=c, rank_now=before[c].rank, rank_then=after[c].rank)
            for c in before
            if c in after and before[c].rank != after[c].rank
        ),
        agents_appear=tuple(sorted(then_agents - now_agents)),
        agents_disappear=tuple(sorted(now_agents - then_agents)),
    )


def _changes(outcome: TestOutcome) -> bool:
    return bool(
        outcome.options_appear
        or outcome.options_disappear
        or outcome.rank_changes
        or outcome.agents_appear
        or outcome.agents_disappear
    )


def informative_tests(
    evaluation: Evaluation,
    *,
    evaluate: Callable[[PatientProfile], Evaluation],
    rules: Sequence[Rule],
    sources: Mapping[str, Source],
) -> tuple[InformativeTest, ...]:
    """For each status left unknown, the values that would change ``evaluation``'s answer.

    Args:
        evaluation: the result to examine.
        evaluate: the evaluation of the rulebase that produced it.
        rules: that rulebase's rules (their test and biopsy advice is cited).
        sources: that rulebase's sources.
    """
    profile = evaluation.profile
    grounds = [r for r in rules if r.then.advice and r.then.advice.topic in TEST_ADVICE]
    citations = cite([c for r in grounds for c in r.citations], sources)
    tests = []
    for status, values in STATUS_VALUES.items():
        if getattr(profile, status) != "unknown":
            continue
        if status == "menopausal_status" and profile.sex == "male":
            continue
        outcomes = tuple(
            outcome
            for value in values
            if _changes(
                outcome := _outcome(
                    value, evaluation, evaluate(profile.model_copy(update={status: value}))
                )
            )
        )
        if outcomes:
            tests.append(InformativeTest(status=status, outcomes=outcomes, citations=citations))
    return tuple(tests)

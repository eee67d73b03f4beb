"""Informative tests: the unknown statuses whose value would change an evaluation's answer.

Each status the profile leaves unknown is tried at each of its known values, and the answers
are compared. The statuses are read from the profile model itself (every field whose values
are a closed set that includes ``unknown`` and that a test of the tumour or of the patient
settles), so a status added to the profile is tried without a change here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import get_args

from pydantic import ValidationError

from mbc_rules.profile import PatientProfile, PriorTherapy
from mbc_rules.rank.citations import cite
from mbc_rules.result import AgentName, EvaluationValues, InformativeTest, RankChange, TestOutcome
from mbc_rules.schema import Rule, Source
from mbc_rules.vocabulary import (
    SYSTEMIC_CATEGORIES,
    BrainMetastases,
    MenopausalStatus,
    Status,
    Vocabulary,
)

# The value types of the fields a test settles: receptor and mutation statuses, menopause.
_TESTED_TYPES: tuple[object, ...] = (Status, MenopausalStatus)
# Advice topics whose citations ground the informative tests (test the tumour, biopsy it).
TEST_ADVICE = frozenset({"biopsy_metastasis", "tumour_testing"})
# How many leading drugs an unknown history is tried with (each costs one evaluation).
MAX_HISTORIES_TRIED = 4
# The complications an unknown list is tried with: the ones that reorder the answer.
COMPLICATIONS_TRIED = ("visceral_crisis", "symptomatic")


def tested_statuses() -> dict[str, tuple[str, ...]]:
    """Each profile field a test settles, with the values it may take other than unknown."""
    return {
        name: tuple(v for v in get_args(field.annotation) if v != "unknown")
        for name, field in PatientProfile.model_fields.items()
        if field.annotation in _TESTED_TYPES
    }


STATUS_VALUES: Mapping[str, tuple[str, ...]] = tested_statuses()
BRAIN_VALUES: tuple[str, ...] = tuple(v for v in get_args(BrainMetastases) if v != "unknown")


def _all_agents(evaluation: EvaluationValues) -> set[str]:
    agents: set[str] = set()
    for option in evaluation.options:
        agents.update(option.agents)
        agents.update(a for regimen in option.regimens for a in regimen.agents)
    return agents


def _outcome(value: str, now: EvaluationValues, then: EvaluationValues) -> TestOutcome:
    before = {o.category: o for o in now.options}
    after = {o.category: o for o in then.options}
    now_agents, then_agents = _all_agents(now), _all_agents(then)
    appear = tuple(sorted(then_agents - now_agents))
    disappear = tuple(sorted(now_agents - then_agents))
    return TestOutcome(
        value=value,
        options_appear=tuple(c for c in after if c not in before),
        options_disappear=tuple(c for c in before if c not in after),
        rank_changes=_moves(
            {c: o.rank for c, o in before.items()}, {c: o.rank for c, o in after.items()}
        ),
        agents_appear=appear,
        agents_disappear=disappear,
        # Named as the evaluation that names them does: the result need not know them.
        names=(
            *(AgentName(id=a, name=then.names.agent(a)) for a in appear),
            *(AgentName(id=a, name=now.names.agent(a)) for a in disappear),
        ),
    )


def _order(ranks: Mapping[str, int], one: str, other: str) -> int:
    # -1: ``one`` comes first, 0: they share a rank, 1: ``one`` comes after.
    return (ranks[one] > ranks[other]) - (ranks[one] < ranks[other])


def _moves(now: Mapping[str, int], then: Mapping[str, int]) -> tuple[RankChange, ...]:
    """The options that change place against the options present both times.

    An option's place is the number of those options ranked strictly ahead of it. An option
    renumbered only because another appeared or left keeps its place, and so does one that
    passes an option while another passes it (it would read "rank 2 to 2"): neither is a move.
    """
    common = [c for c in now if c in then]
    moves = []
    for category in common:
        others = [c for c in common if c != category]
        ahead_now = sum(now[c] < now[category] for c in others)
        ahead_then = sum(then[c] < then[category] for c in others)
        if ahead_now == ahead_then:
            continue
        moves.append(
            RankChange(
                category=category,
                rank_now=now[category],
                rank_then=then[category],
                direction="up" if ahead_then < ahead_now else "down",
                passes=tuple(
                    c for c in others if _order(then, category, c) < _order(now, category, c)
                ),
                passed_by=tuple(
                    c for c in others if _order(then, category, c) > _order(now, category, c)
                ),
            )
        )
    return tuple(moves)


def _changes(outcome: TestOutcome) -> bool:
    return bool(
        outcome.options_appear
        or outcome.options_disappear
        or outcome.rank_changes
        or outcome.agents_appear
        or outcome.agents_disappear
    )


def informative_tests(
    evaluation: EvaluationValues,
    *,
    evaluate: Callable[[PatientProfile], EvaluationValues],
    rules: Sequence[Rule],
    sources: Mapping[str, Source],
    vocabulary: Vocabulary | None = None,
) -> tuple[InformativeTest, ...]:
    """For each status left unknown, the values that would change ``evaluation``'s answer.

    Args:
        evaluation: the result to examine.
        evaluate: the evaluation of the rulebase that produced it.
        rules: that rulebase's rules (their test and biopsy advice is cited).
        sources: that rulebase's sources.
        vocabulary: that rulebase's vocabulary; with it, an omitted treatment history is
            tried with each leading drug having progressed (unknown history is not "no
            history").
    """
    profile = evaluation.profile
    grounds = [r for r in rules if r.then.advice and r.then.advice.topic in TEST_ADVICE]
    citations = cite([c for r in grounds for c in r.citations], sources)
    tests = []
    trials: list[tuple[str, list[tuple[str, dict[str, object]]]]] = []
    for status, values in STATUS_VALUES.items():
        if getattr(profile, status) != "unknown":
            continue
        if status == "menopausal_status" and profile.sex == "male":
            continue
        trials.append((status, [(value, {status: value}) for value in values]))
    if "brain" in profile.metastatic_sites and profile.brain_metastases == "unknown":
        # How many and how large decide surgery, radiosurgery or whole-brain radiation (YSC);
        # tried only where the brain is among the sites, so no spread is supposed.
        trials.append(
            ("brain_metastases", [(value, {"brain_metastases": value}) for value in BRAIN_VALUES])
        )
    if profile.prior_therapies is None and vocabulary is not None:
        # Unknown history is not "no history": each leading drug, had the cancer grown on it.
        for agent, update in _histories_that_matter(evaluation, vocabulary):
            then = evaluate(profile.model_copy(update=update))
            if _changes(outcome := _outcome("progressed", evaluation, then)):
                tests.append(
                    InformativeTest(
                        status="prior_therapies",
                        agent=agent,
                        outcomes=(outcome,),
                        citations=citations,
                    )
                )
    if profile.complications is None:
        trials.append(("complications", [(c, {"complications": [c]}) for c in COMPLICATIONS_TRIED]))
    for status, tried in trials:
        outcomes = tuple(
            outcome
            for value, update in tried
            if _changes(
                outcome := _outcome(value, evaluation, evaluate(profile.model_copy(update=update)))
            )
        )
        if outcomes:
            tests.append(InformativeTest(status=status, outcomes=outcomes, citations=citations))
    tests.extend(_history_tests(evaluation, evaluate))
    return tuple(tests)


def _histories_that_matter(
    evaluation: EvaluationValues, vocabulary: Vocabulary
) -> list[tuple[str, dict[str, object]]]:
    # The leading anticancer drugs, each in turn as having progressed: the histories that
    # would change the answer most.
    leading = [
        agent
        for option in evaluation.options
        if option.category in SYSTEMIC_CATEGORIES
        for agent in option.agents
        if vocabulary[agent].kind == "drug"
    ]
    return [
        (
            agent,
            {
                "prior_therapies": [
                    PriorTherapy.model_construct(
                        agent=agent, outcome="progressed", setting="metastatic", line=None
                    )
                ]
            },
        )
        for agent in list(dict.fromkeys(leading))[:MAX_HISTORIES_TRIED]
    ]


# What is asked of a treatment whose outcome is unknown: did the cancer grow on it or not.
HISTORY_VALUES = ("progressed", "completed")


def _history_tests(
    evaluation: EvaluationValues, evaluate: Callable[[PatientProfile], EvaluationValues]
) -> list[InformativeTest]:
    """For each treatment given with an unknown outcome, the answers if the cancer grew on it
    and if it did not: an unknown history is not "no history", and asking settles it.
    """
    profile = evaluation.profile
    tests = []
    # A list left unknown as a whole (no history, no complications given) is asked as one
    # question: what if there were none.
    for field in ("prior_therapies", "complications"):
        if getattr(profile, field, ()) is not None:
            continue
        try:
            then = evaluate(profile.model_copy(update={field: []}))
        except ValidationError:  # pragma: no cover - an empty list is always a valid value
            continue
        outcome = _outcome("none", evaluation, then)
        if _changes(outcome):
            tests.append(InformativeTest(status=field, outcomes=(outcome,), citations=()))
    therapies = list(profile.prior_therapies or ())
    for index, therapy in enumerate(therapies):
        if therapy.outcome != "unknown":
            continue
        outcomes = []
        for value in HISTORY_VALUES:
            changed = [*therapies]
            changed[index] = therapy.model_copy(update={"outcome": value})
            try:
                then = evaluate(profile.model_copy(update={"prior_therapies": changed}))
            except ValidationError:
                continue  # the same drug is already listed with this outcome
            outcome = _outcome(value, evaluation, then)
            if _changes(outcome):
                outcomes.append(outcome)
        if outcomes:
            tests.append(
                InformativeTest(
                    status=f"prior_therapies.{index}.outcome",
                    agent=therapy.agent,
                    outcomes=tuple(outcomes),
                    citations=(),
                )
            )
    return tests

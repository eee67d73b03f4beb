"""Tests that would change the answer: each unknown status, tried at each value."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mbc_rules import Rulebase
from mbc_rules.result import RankChange

AFTER_AI = {
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "prior_therapies": [{"agent": "anastrozole", "outcome": "progressed"}],
}


def test_an_unknown_pik3ca_status_is_reported_with_what_it_would_add(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(AFTER_AI)
    agents = {a for o in result.options for r in o.regimens for a in r.agents}
    assert "alpelisib" not in agents  # options hold only what the profile supports now
    tests = {t.status: t for t in rulebase.informative_tests(result)}
    (outcome,) = tests["pik3ca_status"].outcomes
    assert outcome.value == "positive"
    assert outcome.agents_appear == ("alpelisib",)
    assert tests["pik3ca_status"].citations
    assert {"er_status", "pr_status", "her2_status", "menopausal_status"}.isdisjoint(tests)


def test_unknown_receptors_before_menopause_would_open_hormone_therapy(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({"menopausal_status": "premenopausal"})
    assert result.option("hormone_therapy") is None
    er = next(t for t in rulebase.informative_tests(result) if t.status == "er_status")
    positive = next(o for o in er.outcomes if o.value == "positive")
    assert "hormone_therapy" in positive.options_appear
    assert "tamoxifen" in positive.agents_appear


def test_a_fully_tested_profile_has_no_informative_tests(rulebase: Rulebase) -> None:
    known = {
        **AFTER_AI,
        "brca_status": "negative",
        "pik3ca_status": "negative",
        "pdl1_status": "negative",
    }
    assert rulebase.informative_tests(rulebase.evaluate(known)) == ()


def test_rank_changes_are_reported(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(AFTER_AI)
    brca = next(t for t in rulebase.informative_tests(result) if t.status == "brca_status")
    positive = next(o for o in brca.outcomes if o.value == "positive")
    moved = {c.category: (c.rank_now, c.rank_then) for c in positive.rank_changes}
    assert "chemotherapy" in moved
    now, then = moved["chemotherapy"]
    assert then < now  # a BRCA mutation makes chemotherapy the typical treatment (ACS)


def _order(ranks: Mapping[str, int], one: str, other: str) -> int:
    return (ranks[one] > ranks[other]) - (ranks[one] < ranks[other])


def _check_moves(rulebase: Rulebase, profile: Mapping[str, object]) -> int:
    """Every reported move matches the two answers; every real move is reported."""
    result = rulebase.evaluate(profile)
    checked = 0
    for test in rulebase.informative_tests(result):
        if test.agent is not None:
            continue
        for outcome in test.outcomes:
            then = rulebase.evaluate({**profile, test.status: outcome.value})
            now_ranks: dict[str, int] = {o.category: o.rank for o in result.options}
            then_ranks: dict[str, int] = {o.category: o.rank for o in then.options}
            common = [c for c in now_ranks if c in then_ranks]
            moves: dict[str, RankChange] = {m.category: m for m in outcome.rank_changes}
            for category in common:
                others = [c for c in common if c != category]
                gained = [
                    c
                    for c in others
                    if _order(then_ranks, category, c) < _order(now_ranks, category, c)
                ]
                lost = [
                    c
                    for c in others
                    if _order(then_ranks, category, c) > _order(now_ranks, category, c)
                ]
                if not gained and not lost:
                    # Renumbered at most (an option appeared or left): not a move.
                    assert category not in moves
                    continue
                move = moves[category]
                assert set(move.passes) == set(gained)
                assert set(move.passed_by) == set(lost)
                assert (move.rank_now, move.rank_then) == (
                    now_ranks[category],
                    then_ranks[category],
                )
                if gained and not lost:
                    assert move.direction == "up"
                if lost and not gained:
                    assert move.direction == "down"
                checked += 1
    return checked


def test_a_test_result_moves_options_both_ways(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(AFTER_AI)
    brca = next(t for t in rulebase.informative_tests(result) if t.status == "brca_status")
    positive = next(o for o in brca.outcomes if o.value == "positive")
    directions = {m.category: m.direction for m in positive.rank_changes}
    assert directions["chemotherapy"] == "up"  # "chemotherapy is the typical treatment" (ACS)
    assert "down" in directions.values()  # what chemotherapy passes moves down
    down = next(m for m in positive.rank_changes if m.direction == "down")
    assert "chemotherapy" in down.passed_by
    assert _check_moves(rulebase, AFTER_AI) >= 2
    # The text and the notebook view say which way, in words.
    report = rulebase.report(result)
    assert "moves chemotherapy up (rank " in report
    assert f"moves {down.category.replace('_', ' ')} down (rank " in report
    html = rulebase.html(result)
    assert "&#9650; up</span>" in html
    assert "&#9660; down</span>" in html


def test_options_renumbered_only_because_another_appeared_have_not_moved(
    rulebase: Rulebase,
) -> None:
    # Unknown receptors before menopause: a positive ER adds hormone therapy ahead of others.
    profiles: list[Mapping[str, object]] = [
        {"menopausal_status": "premenopausal", "metastatic_sites": ["bone"]},
        {"er_status": "positive", "her2_status": "unknown", "metastatic_sites": ["liver"]},
        {"er_status": "negative", "pr_status": "negative", "metastatic_sites": ["brain"]},
        AFTER_AI,
    ]
    assert sum(_check_moves(rulebase, p) for p in profiles) > 0


def test_a_treatment_whose_outcome_is_unknown_is_a_question_worth_asking(
    rulebase: Rulebase,
) -> None:
    profile = {
        **AFTER_AI,
        "prior_therapies": [
            {"agent": "anastrozole", "outcome": "progressed"},
            {"agent": "capecitabine"},
        ],
    }
    result = rulebase.evaluate(profile)
    history = [t for t in rulebase.informative_tests(result) if t.agent is not None]
    (test,) = history
    assert (test.status, test.agent) == ("prior_therapies.1.outcome", "capecitabine")
    grew = next(o for o in test.outcomes if o.value == "progressed")
    then = rulebase.evaluate(
        {
            **profile,
            "prior_therapies": [
                {"agent": "anastrozole", "outcome": "progressed"},
                {"agent": "capecitabine", "outcome": "progressed"},
            ],
        }
    )
    assert set(grew.options_appear) == {o.category for o in then.options} - {
        o.category for o in result.options
    }
    assert "how capecitabine ended (not known): if the cancer grew on capecitabine" in (
        rulebase.report(result)
    )


def test_an_unknown_history_is_asked_as_one_question(rulebase: Rulebase) -> None:
    from mbc_rules import PatientProfile

    if PatientProfile.model_fields["prior_therapies"].default is not None:
        pytest.skip("the profile cannot say 'history unknown' yet (prior_therapies is a list)")
    profile = {k: v for k, v in AFTER_AI.items() if k != "prior_therapies"}
    result = rulebase.evaluate(profile)
    tests = {t.status: t for t in rulebase.informative_tests(result)}
    # First-line statements wait on knowing that nothing was given before.
    (outcome,) = tests["prior_therapies"].outcomes
    assert outcome.value == "none"
    naive = rulebase.evaluate({**profile, "prior_therapies": []})
    assert set(outcome.options_appear) == {o.category for o in naive.options} - {
        o.category for o in result.options
    }
    assert "treatment history (not given): if no treatment had been given" in (
        rulebase.report(result)
    )

"""Tests that would change the answer: each unknown status, tried at each value."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
        "complications": [],
    }
    assert rulebase.informative_tests(rulebase.evaluate(known)) == ()


def test_rank_changes_are_reported(rulebase: Rulebase) -> None:
    hr_negative = {
        "er_status": "negative",
        "pr_status": "negative",
        "prior_therapies": [],
        "complications": [],
    }
    result = rulebase.evaluate(hr_negative)
    her2 = next(t for t in rulebase.informative_tests(result) if t.status == "her2_status")
    positive = next(o for o in her2.outcomes if o.value == "positive")
    moved = {c.category: (c.rank_now, c.rank_then) for c in positive.rank_changes}
    # YSC: "All therapies will involve the use of anti-HER2 treatment": anti-HER2 treatment
    # (targeted therapy) would lead, chemotherapy would follow it.
    assert moved["targeted_therapy"][1] == 1
    now, then = moved["chemotherapy"]
    assert then > now


def _order(ranks: Mapping[str, int], one: str, other: str) -> int:
    return (ranks[one] > ranks[other]) - (ranks[one] < ranks[other])


def _check_moves(rulebase: Rulebase, profile: Mapping[str, object]) -> int:
    """Every reported move matches the two answers; every change of place is reported."""
    result = rulebase.evaluate(profile)
    checked = 0
    for test in rulebase.informative_tests(result):
        if test.agent is not None or test.status in ("prior_therapies", "complications"):
            continue  # a history or a list of complications, not one status's value
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
                ahead_now = sum(now_ranks[c] < now_ranks[category] for c in others)
                ahead_then = sum(then_ranks[c] < then_ranks[category] for c in others)
                if ahead_now == ahead_then:
                    # Renumbered at most, or it passed one option as another passed it: its
                    # place among the others is kept, not a move.
                    assert category not in moves
                    continue
                move = moves[category]
                assert set(move.passes) == set(gained)
                assert set(move.passed_by) == set(lost)
                assert (move.rank_now, move.rank_then) == (
                    now_ranks[category],
                    then_ranks[category],
                )
                assert move.direction == ("up" if ahead_then < ahead_now else "down")
                checked += 1
    return checked


def test_a_test_result_moves_options_both_ways(rulebase: Rulebase) -> None:
    # Hormone receptor negative, HER2 unknown: a positive HER2 puts anti-HER2 treatment first
    # (YSC: "All therapies will involve the use of anti-HER2 treatment"), above chemotherapy.
    # (Before issue 10 this used a BRCA mutation after an aromatase inhibitor; the sources'
    # order keeps hormone therapy above chemotherapy there while a hormone drug is left.)
    hr_negative = {"er_status": "negative", "pr_status": "negative", "prior_therapies": []}
    result = rulebase.evaluate(hr_negative)
    her2 = next(t for t in rulebase.informative_tests(result) if t.status == "her2_status")
    positive = next(o for o in her2.outcomes if o.value == "positive")
    directions = {m.category: m.direction for m in positive.rank_changes}
    assert directions["targeted_therapy"] == "up"
    assert "down" in directions.values()  # what targeted therapy passes moves down
    down = next(m for m in positive.rank_changes if m.direction == "down")
    assert "targeted_therapy" in down.passed_by
    assert _check_moves(rulebase, hr_negative) >= 2
    # The text and the notebook view say which way, in words.
    report = " ".join(rulebase.report(rulebase.with_informative_tests(result)).split())
    assert "moves targeted therapy up (rank " in report
    assert f"moves {down.category.replace('_', ' ')} down (rank " in report
    html = rulebase.html(rulebase.with_informative_tests(result))
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
    # Exemestane with an unknown outcome: had the cancer grown on it, it would not be offered
    # again (issue 10; capecitabine, used here before, now changes only not_recommended).
    profile = {
        **AFTER_AI,
        "prior_therapies": [
            {"agent": "anastrozole", "outcome": "progressed"},
            {"agent": "exemestane"},
        ],
    }
    result = rulebase.evaluate(profile)
    history = [t for t in rulebase.informative_tests(result) if t.agent is not None]
    (test,) = history
    assert (test.status, test.agent) == ("prior_therapies.1.outcome", "exemestane")
    grew = next(o for o in test.outcomes if o.value == "progressed")
    then = rulebase.evaluate(
        {
            **profile,
            "prior_therapies": [
                {"agent": "anastrozole", "outcome": "progressed"},
                {"agent": "exemestane", "outcome": "progressed"},
            ],
        }
    )
    assert "exemestane" in grew.agents_disappear
    assert set(grew.options_appear) == {o.category for o in then.options} - {
        o.category for o in result.options
    }
    assert "how exemestane ended (not known): if the cancer grew on exemestane" in (
        rulebase.report(rulebase.with_informative_tests(result))
    )


def test_an_unknown_history_is_asked_as_one_question(rulebase: Rulebase) -> None:
    # An omitted history is unknown: the answer assumes no earlier treatment and says so
    # (issue 13 item 4), and the informative tests name the drugs whose failure would change it.
    profile = {k: v for k, v in AFTER_AI.items() if k != "prior_therapies"}
    result = rulebase.evaluate(profile)
    assert any("assumes no earlier treatment" in c for c in result.caveats)
    history = [t for t in rulebase.informative_tests(result) if t.status == "prior_therapies"]
    assert history
    for test in history:
        (outcome,) = test.outcomes
        assert outcome.value == "progressed"
        assert test.agent is not None
        grown = rulebase.evaluate(
            {**profile, "prior_therapies": [{"agent": test.agent, "outcome": "progressed"}]}
        )
        assert test.agent not in {a for o in grown.options for a in o.agents}


# Issue 21: the informative tests' labels and moves.
LATER_LINE = {
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
    "prior_therapies": [
        {"agent": "letrozole", "outcome": "progressed"},
        {"agent": "palbociclib", "outcome": "progressed"},
    ],
}


def test_a_complication_tried_is_not_labelled_no_complications(rulebase: Rulebase) -> None:
    # Before: "complications (not given): if there were no complications: moves chemotherapy
    # up (rank 3 to 1)" told the visceral-crisis answer under the "none" label.
    result = rulebase.evaluate(LATER_LINE)
    crisis = next(
        o
        for t in rulebase.informative_tests(result)
        if t.status == "complications"
        for o in t.outcomes
        if o.value == "visceral_crisis"
    )
    assert any(m.category == "chemotherapy" and m.direction == "up" for m in crisis.rank_changes)
    report = rulebase.report(rulebase.with_informative_tests(result))
    assert "if there were a visceral crisis: moves chemotherapy up (rank 3 to 1)" in report
    assert "if there were no complications: moves chemotherapy up" not in report


def test_an_option_that_keeps_its_place_is_not_a_move(rulebase: Rulebase) -> None:
    # Before: "moves targeted therapy up (rank 2 to 2)": it passed hormone therapy while
    # chemotherapy passed it, so it kept its place and is not a move.
    result = rulebase.evaluate(LATER_LINE)
    crisis = next(
        o
        for t in rulebase.informative_tests(result)
        if t.status == "complications"
        for o in t.outcomes
        if o.value == "visceral_crisis"
    )
    assert "targeted_therapy" not in {m.category for m in crisis.rank_changes}
    report = rulebase.report(rulebase.with_informative_tests(result))
    assert not re.search(r"rank (\d+) to \1\b", report)
    for test in rulebase.informative_tests(result):
        for outcome in test.outcomes:
            for move in outcome.rank_changes:
                assert (
                    move.rank_now != move.rank_then
                    or outcome.options_appear
                    or (outcome.options_disappear)
                )


def test_brain_metastases_not_described_are_worth_describing() -> None:
    # YSC: few brain metastases (or one large one pressing on the tissue around it) may be
    # removed by surgery or treated with radiosurgery; multiple ones, especially large, with
    # whole brain radiation. Not described, the answer can offer neither: describing them is
    # a test that would change it.
    rulebase = Rulebase.bundled(engine="python")
    base = {
        "er_status": "negative",
        "pr_status": "negative",
        "her2_status": "negative",
        "prior_therapies": [],
        "complications": [],
    }
    result = rulebase.evaluate({**base, "metastatic_sites": ["brain"]}, informative_tests=True)
    test = next(t for t in result.informative_tests if t.status == "brain_metastases")
    by_value = {o.value: o for o in test.outcomes}
    assert {"stereotactic_radiosurgery", "metastasis_resection"} <= set(
        by_value["few"].agents_appear
    )
    assert "whole_brain_radiation" in by_value["multiple"].agents_appear
    assert "whole_brain_radiation" in by_value["multiple_large"].agents_appear
    text = " ".join(str(result).split())
    assert (
        "how many brain metastases, and how large (not described): if multiple brain metastases: "
        "adds whole brain radiation therapy"
    ) in text
    # Where the brain is not among the sites, no spread there is supposed.
    elsewhere = rulebase.evaluate({**base, "metastatic_sites": ["liver"]}, informative_tests=True)
    assert all(t.status != "brain_metastases" for t in elsewhere.informative_tests)

"""Tests that would change the answer: each unknown status, tried at each value."""

from __future__ import annotations

from mbc_rules import Rulebase

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

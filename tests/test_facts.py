"""Derived facts count what the sources count: distinct drugs, not entries of the history."""

from __future__ import annotations

from mbc_rules import Rulebase
from mbc_rules.facts import derive_facts


def facts_of(rulebase: Rulebase, therapies: list[dict[str, str]]) -> dict[str, object]:
    profile = rulebase.read_profile({"her2_status": "positive", "prior_therapies": therapies})
    return dict(derive_facts(profile, rulebase.vocabulary))


def test_a_her2_drug_given_twice_counts_once(bundled: Rulebase) -> None:
    twice = [
        {"agent": "trastuzumab", "setting": "early", "outcome": "completed"},
        {"agent": "trastuzumab", "setting": "metastatic", "outcome": "progressed"},
    ]
    assert facts_of(bundled, twice)["her2_targeted_drugs_given"] == 1
    two_drugs = [*twice, {"agent": "pertuzumab", "outcome": "progressed"}]
    assert facts_of(bundled, two_drugs)["her2_targeted_drugs_given"] == 2


def test_a_chemotherapy_drug_given_twice_counts_once(bundled: Rulebase) -> None:
    twice = [
        {"agent": "paclitaxel", "setting": "early", "outcome": "completed"},
        {"agent": "paclitaxel", "setting": "metastatic", "outcome": "progressed"},
    ]
    assert facts_of(bundled, twice)["chemotherapy_drugs_given"] == 1


def test_one_history_is_one_shared_value(rulebase: Rulebase) -> None:
    from mbc_rules.facts import PriorUse, TreatmentHistory, treatment_history

    therapies = [
        {"agent": "Femara", "outcome": "progressed"},
        {"agent": "yoga", "outcome": "progressed"},
        {"agent": "paclitaxel", "outcome": "completed", "setting": "early"},
    ]
    first, second = (
        treatment_history(rulebase.read_profile(p), rulebase.vocabulary)
        for p in ({"prior_therapies": therapies}, {"prior_therapies": therapies, "sex": "male"})
    )
    assert first is second
    assert first == TreatmentHistory(
        known=True,
        # A completed adjuvant course is not growth on it (issue 19).
        failed=frozenset({"letrozole"}),
        uses=(
            PriorUse("letrozole", "progressed", "metastatic"),
            PriorUse("paclitaxel", "completed", "early"),
        ),
    )


def test_growth_on_a_drug_is_growth_on_it_under_each_of_its_names(bundled: Rulebase) -> None:
    # Issue 19: ACS's "Abraxane (albumin-bound paclitaxel)" is paclitaxel; the history says
    # so itself, not only the ranking's table of related drugs.
    from mbc_rules.facts import treatment_history

    profile = bundled.read_profile(
        {"prior_therapies": [{"agent": "paclitaxel", "outcome": "progressed"}]}
    )
    failed = treatment_history(profile, bundled.vocabulary).failed
    assert failed == {"paclitaxel", "albumin_bound_paclitaxel"}

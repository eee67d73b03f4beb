"""Properties over generated valid profiles, including the sources' hard boundaries."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Evaluation, Rulebase

from .strategies import profiles


def python() -> Rulebase:
    # Built when a test runs, not at import: a bad rule fails tests instead of collection.
    return Rulebase.bundled(engine="python")


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

AROMATASE_INHIBITORS = {"letrozole", "anastrozole", "exemestane", "aromatase_inhibitor"}
PARP_INHIBITORS = {"olaparib", "talazoparib", "parp_inhibitor"}


def named(result: Evaluation) -> set[str]:
    agents: set[str] = set()
    for option in result.options:
        agents.update(option.agents)
        agents.update(a for regimen in option.regimens for a in regimen.agents)
    return agents


def answer(result: Evaluation) -> dict[str, Any]:
    # The digest covers the profile as read (in its order), so it goes with the profile.
    return result.model_dump(exclude={"profile", "digest"})


@SETTINGS
@given(profiles())
def test_every_answer_is_cited_ranked_and_complete(profile: dict[str, Any]) -> None:
    result = python().evaluate(profile)
    assert all(option.citations for option in result.options)
    assert all(item.citations for item in result.not_recommended)
    categories = result.categories
    assert "palliative_care" in categories
    assert "clinical_trial" in categories
    ranks = [option.rank for option in result.options]
    assert ranks[0] == 1
    assert all(later - earlier in (0, 1) for earlier, later in itertools.pairwise(ranks))
    assert result.model_dump_json() == python().evaluate(profile).model_dump_json()


@SETTINGS
@given(profiles(), st.randoms(use_true_random=False))
def test_the_order_of_sites_and_history_does_not_matter(profile: dict[str, Any], rng: Any) -> None:
    shuffled = {**profile}
    for key in ("metastatic_sites", "complications", "resectable_sites", "prior_therapies"):
        items = list(profile[key])
        rng.shuffle(items)
        shuffled[key] = items
    assert answer(python().evaluate(shuffled)) == answer(python().evaluate(profile))


@SETTINGS
@given(profiles())
def test_the_hard_boundaries_of_the_sources_hold(profile: dict[str, Any]) -> None:
    result = python().evaluate(profile)
    agents = named(result)
    hormone_negative = profile["er_status"] == profile["pr_status"] == "negative"
    if hormone_negative:
        assert "hormone_therapy" not in result.categories
        assert not any(python().vocabulary[a].category == "hormone_therapy" for a in agents)
    if profile["her2_status"] != "positive":
        assert not any(python().vocabulary[a].is_her2_targeted for a in agents)
        assert "anti_her2_therapy" not in agents
    triple_negative = hormone_negative and profile["her2_status"] == "negative"
    if not (triple_negative and profile["pdl1_status"] == "positive"):
        assert "immunotherapy" not in result.categories
        assert not any(python().vocabulary[a].drug_class == "checkpoint_inhibitor" for a in agents)
    if profile["pik3ca_status"] != "positive":
        assert "alpelisib" not in agents
    if profile["brca_status"] != "positive":
        assert not agents & PARP_INHIBITORS
    if profile["menopausal_status"] != "postmenopausal":
        assert "toremifene" not in agents
        assert not agents & AROMATASE_INHIBITORS


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_the_two_engines_are_each_others_oracle(profile: dict[str, Any]) -> None:
    # Hypothesis shrinks a disagreement to the smallest profile that shows it.
    from .conftest import ENGINES

    if "durable" not in ENGINES:
        return
    durable = Rulebase.bundled(engine="durable")
    assert durable.fired_rules(profile) == python().fired_rules(profile)
    assert (
        durable.evaluate(profile).model_dump_json() == python().evaluate(profile).model_dump_json()
    )

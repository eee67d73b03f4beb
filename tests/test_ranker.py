"""Ranker (rank() with a memory of its steps) against rank() itself, and its pieces."""

from __future__ import annotations

import random
import threading

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Rulebase, evaluate_frame
from mbc_rules.cohort.columnar import _ABSENT, dense_ranks
from mbc_rules.facts import derive_facts, treatment_history
from mbc_rules.rank import (
    Ranker,
    Standing,
    arrange,
    linked_categories,
    order_key,
    rank,
    speaking_of,
    waiting_rules,
)
from mbc_rules.result import Names, answer_digest
from mbc_rules.schema import Regimen, Rule

from .strategies import profiles, random_profile


def _pure(rulebase: Rulebase, profile: dict[str, object]) -> str:
    """rank() on the whole fired set, as the rulebase would call it without its memory."""
    read = rulebase.read_profile(profile)
    facts = derive_facts(read, rulebase.vocabulary)
    fired_ids = rulebase._matcher.match(facts)
    excluded = ("women",) if read.sex == "male" else ()
    fired = [r for r in rulebase.rules if r.id in fired_ids]
    waiting = waiting_rules(rulebase.rules, facts, fired_ids)
    answer = rank(
        speaking_of(fired, excluded),
        rulebase.vocabulary,
        rulebase.sources,
        history=treatment_history(read, rulebase.vocabulary),
        standing=Standing.of(facts),
        waiting=speaking_of([r for r in rulebase.rules if r.id in waiting], excluded),
        sentences=rulebase._sentences,
    )
    return answer_digest(*answer, (), (), Names())


def _remembered(ranker: Ranker, rulebase: Rulebase, profile: dict[str, object]) -> str:
    read = rulebase.read_profile(profile)
    facts = derive_facts(read, rulebase.vocabulary)
    fired_ids = rulebase._matcher.match(facts)
    answer = ranker.answer(
        fired_ids,
        read.sex == "male",
        treatment_history(read, rulebase.vocabulary),
        Standing.of(facts),
        waiting_rules(rulebase.rules, facts, fired_ids),
    )
    return answer_digest(*answer, (), (), Names())


def _fresh_ranker(rulebase: Rulebase) -> Ranker:
    return Ranker(rulebase.rules, rulebase.vocabulary, rulebase.sources, rulebase._sentences)


def test_the_ranker_gives_what_rank_gives_on_1500_profiles_in_any_order() -> None:
    """Its memory never changes an answer, whatever was asked before (two orders, two
    rankers, one of them warm from the other order)."""
    rulebase = Rulebase.bundled(engine="compiled")
    rng = random.Random(2026)
    batch = [random_profile(rng) for _ in range(1500)]
    expected = [_pure(rulebase, p) for p in batch]
    forward, backward = _fresh_ranker(rulebase), _fresh_ranker(rulebase)
    assert [_remembered(forward, rulebase, p) for p in batch] == expected
    assert [_remembered(backward, rulebase, p) for p in reversed(batch)] == expected[::-1]
    assert [_remembered(backward, rulebase, p) for p in batch] == expected


def test_the_ranker_gives_what_rank_gives_where_its_parts_meet_again() -> None:
    """Profiles mixed from a few: the same history, statuses and sites meet in new
    combinations, so that an option made for one arrangement is met again at another rank,
    or beside other options whose notes read differently; each answer is still rank()'s.
    """
    rulebase = Rulebase.bundled(engine="compiled")
    rng = random.Random(20)
    pool = [random_profile(rng) for _ in range(30)]
    batch = []
    for _ in range(1200):
        profile = dict(rng.choice(pool))
        profile["prior_therapies"] = rng.choice(pool)["prior_therapies"]
        sites = rng.choice(pool)
        profile["metastatic_sites"] = sites["metastatic_sites"]
        profile["resectable_sites"] = sites["resectable_sites"]
        statuses = rng.choice(pool)
        for field in ("er_status", "pr_status", "her2_status", "complications"):
            profile[field] = statuses[field]
        batch.append(profile)
    ranker = _fresh_ranker(rulebase)
    assert [_remembered(ranker, rulebase, p) for p in batch] == [_pure(rulebase, p) for p in batch]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(profiles(), min_size=1, max_size=8))
def test_the_ranker_gives_what_rank_gives_on_drawn_profiles(
    batch: list[dict[str, object]],
) -> None:
    rulebase = Rulebase.bundled(engine="compiled")
    ranker = _fresh_ranker(rulebase)
    for profile in batch:
        assert _remembered(ranker, rulebase, profile) == _pure(rulebase, profile)


def test_threads_sharing_one_ranker_get_the_serial_answers() -> None:
    rulebase = Rulebase.bundled(engine="compiled")
    rng = random.Random(7)
    batch = [random_profile(rng) for _ in range(400)]
    expected = [_pure(rulebase, p) for p in batch]
    ranker = _fresh_ranker(rulebase)
    got: dict[int, list[str]] = {}

    def work(k: int) -> None:
        order = list(range(len(batch)))
        random.Random(k).shuffle(order)
        answers = {i: _remembered(ranker, rulebase, batch[i]) for i in order}
        got[k] = [answers[i] for i in range(len(batch))]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answers == expected for answers in got.values())


def test_a_cohort_shares_a_rank_where_an_evaluation_does() -> None:
    """Options equal on every ordering key tie in the long table as in the result."""
    rulebase = Rulebase.bundled(engine="compiled")
    rng = random.Random(3)
    tied: list[dict[str, object]] = []
    while len(tied) < 40:
        profile = random_profile(rng)
        ranks = [o.rank for o in rulebase.evaluate(profile).options]
        if len(set(ranks)) < len(ranks):
            tied.append(profile)
    out = evaluate_frame(pd.DataFrame(tied), rulebase=rulebase, verify=0)
    for position, profile in enumerate(tied):
        expected = [(o.category, o.rank) for o in rulebase.evaluate(profile).options]
        mine = out.long.loc[[position]]
        assert list(zip(mine["category"].astype(str), mine["rank"], strict=True)) == expected


def _dense(row: list[int]) -> list[int]:
    present = sorted({k for k in row if k != _ABSENT})
    return [0 if k == _ABSENT else present.index(k) + 1 for k in row]


@given(
    st.lists(
        st.lists(st.sampled_from([0, 1, 2, 5, 9, _ABSENT]), min_size=10, max_size=10),
        max_size=30,
    )
)
def test_dense_ranks_rank_each_row_as_arrange_does(rows: list[list[int]]) -> None:
    keys = np.array(rows, dtype=np.int64).reshape(len(rows), 10)
    assert dense_ranks(keys).tolist() == [_dense(row) for row in rows]


def test_only_the_systemic_categories_are_arranged_together_in_the_bundled_rules() -> None:
    rulebase = Rulebase.bundled()
    together = linked_categories(rulebase.rules, rulebase.vocabulary)
    assert together == {"hormone_therapy", "targeted_therapy", "immunotherapy", "chemotherapy"}


def test_a_regimen_with_a_category_partner_links_its_category() -> None:
    """Radiation offered 'with chemotherapy' only beside a chemotherapy option depends on
    chemotherapy being offered; without ``only_beside`` it stands on its own sentence.
    """
    rulebase = Rulebase.bundled()
    base = next(
        r for r in rulebase.rules if r.then.offer and r.then.offer.category == "radiation_therapy"
    )
    assert base.then.offer is not None
    procedure = next(
        a.id
        for a in rulebase.vocabulary.agents.values()
        if a.category == "radiation_therapy" and a.kind == "procedure"
    )

    def with_regimen(regimen: Regimen) -> list[Rule]:
        assert base.then.offer is not None
        offer = base.then.offer.model_copy(update={"regimens": [regimen]})
        linked = base.model_copy(update={"then": base.then.model_copy(update={"offer": offer})})
        return [*rulebase.rules, linked]

    beside = Regimen(agents=[procedure, "chemotherapy"], only_beside="chemotherapy")
    assert "radiation_therapy" in linked_categories(with_regimen(beside), rulebase.vocabulary)
    alone = Regimen(agents=[procedure, "chemotherapy"])
    assert "radiation_therapy" not in linked_categories(with_regimen(alone), rulebase.vocabulary)


def test_order_key_puts_supportive_care_last_and_more_sources_first() -> None:
    systemic = order_key("chemotherapy", 0, 2, 0)
    assert systemic < order_key("chemotherapy", 0, 1, 0)
    assert order_key("radiation_therapy", 0, 3, 0) > systemic
    assert order_key("palliative_care", 0, 3, 0) > order_key("radiation_therapy", 2, 1, 0)


def test_arrange_of_nothing_is_empty() -> None:
    rulebase = Rulebase.bundled()
    assert arrange([], rulebase.vocabulary).options == ()


def test_grown_on_items_remembered_by_their_parts_read_as_made_afresh() -> None:
    """The Ranker remembers each grown-on and held-back item by what its text reads (the
    drug, how it grew, the regimens continuing it; the agents held and the drugs behind
    them): an answer assembled from remembered items is the one made without memory, and an
    item shared by two answers is one object."""
    rulebase = Rulebase.bundled(engine="compiled")
    ranker = _fresh_ranker(rulebase)
    rng = random.Random(20)
    batch = [random_profile(rng) for _ in range(600)]
    for profile in batch:
        assert _remembered(ranker, rulebase, profile) == _pure(rulebase, profile)
    remembered = ranker._grown_parts
    assert remembered, "no history in 600 profiles had the cancer grow on a drug"
    ids = {id(item) for items in ranker._grown_said.values() for item in items}
    assert {id(item) for item in remembered.values()} & ids

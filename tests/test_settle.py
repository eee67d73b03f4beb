"""rank.arrange.settle and placed_at, which the cohort engine arranges by, against arrange.

settle decides which categories are offered from what each category's parts do (Presence),
and placed_at places each category on its own afterwards: together they must give every
option, tier, drug, source and order key that arrange gives the same parts, for any set of
fired rules, any drugs the cancer grew on and any standing.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Rulebase
from mbc_rules.rank.arrange import Presence, arrange, by_category, placed_at, settle
from mbc_rules.rank.contributions import contributions, removals
from mbc_rules.rank.standing import Standing

BUNDLED = Rulebase.bundled(engine="python")
RULES = list(BUNDLED.rules)
DRUGS = sorted(a.id for a in BUNDLED.vocabulary.agents.values() if a.kind == "drug")


def _arranged_both_ways(
    chosen: list[int], failed: frozenset[str], standing: Standing, hormone_failed: bool
) -> None:
    vocabulary = BUNDLED.vocabulary
    fired = [RULES[j] for j in sorted(chosen)]
    parts = contributions(fired, vocabulary, failed, removals(fired))
    categories = by_category(parts, vocabulary)
    expected = arrange(categories, vocabulary, standing=standing, hormone_failed=hormone_failed)
    presences = [Presence(c, vocabulary, hormone_failed) for c in categories]
    settled = settle(presences, standing)
    assert settled.offered == {p.category for p in expected.options}
    assert dict(settled.levels) == dict(expected.levels)
    for presence, kept, absent in zip(presences, settled.kept, settled.absent, strict=True):
        level = settled.levels.get(presence.category, 0)
        placed = placed_at(presence, kept, absent, level)
        want = expected.get(presence.category)
        if want is None:
            assert placed is None
            continue
        assert placed is not None
        assert (placed.tier, placed.agents, placed.regimens, placed.sources, placed.key) == (
            want.tier,
            want.agents,
            want.regimens,
            want.sources,
            want.key,
        )
    for presence in presences:
        # What settle reads of a category's parts, read without making its entry, is what
        # its entry says, in every state settling can leave it in.
        for kept in _subsets(presence.needed):
            for absent in _subsets(presence.waits):
                entry = presence.entry(kept, absent)
                her2 = entry is not None and any(
                    vocabulary.agents[a].is_her2_targeted
                    for a in (*entry.agents, *(a for c in entry.regimens for a in c))
                )
                assert presence.at(kept, absent) == (entry is not None, her2)


def _subsets(names: frozenset[str]) -> list[frozenset[str]]:
    ordered = sorted(names)
    return [
        frozenset(n for i, n in enumerate(ordered) if mask >> i & 1)
        for mask in range(1 << len(ordered))
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chosen=st.lists(st.integers(0, len(RULES) - 1), unique=True, max_size=40),
    failed=st.frozensets(st.sampled_from(DRUGS), max_size=6),
    bits=st.integers(0, 7),
    hormone_failed=st.booleans(),
)
def test_settle_and_placed_at_give_what_arrange_gives(
    chosen: list[int], failed: frozenset[str], bits: int, hormone_failed: bool
) -> None:
    standing = Standing(
        hormone_receptor_positive=bool(bits & 1),
        her2_positive=bool(bits & 2),
        serious_problems_from_spread=bool(bits & 4),
    )
    _arranged_both_ways(chosen, failed, standing, hormone_failed)


def test_a_regimen_needing_hormone_therapy_is_dropped_when_hormone_therapy_is_not_offered() -> None:
    """The settling itself, on the bundled rules: with only the targeted therapy rules fired,
    hormone therapy is not offered, so targeted therapy keeps no regimen that needs it beside
    it (the case arrange's rounds exist for), and keeps those that do not.
    """
    vocabulary = BUNDLED.vocabulary
    chosen = [
        j
        for j, rule in enumerate(RULES)
        if rule.then.offer is not None and rule.then.offer.category == "targeted_therapy"
    ]
    fired = [RULES[j] for j in chosen]
    parts = contributions(fired, vocabulary, frozenset(), removals(fired))
    presences = [Presence(c, vocabulary, False) for c in by_category(parts, vocabulary)]
    targeted = next(p for p in presences if p.category == "targeted_therapy")
    assert "hormone_therapy" in targeted.needed
    settled = settle(presences, Standing(hormone_receptor_positive=True))
    assert "hormone_therapy" not in settled.offered
    kept = settled.kept[presences.index(targeted)]
    assert "hormone_therapy" not in kept
    full = targeted.entry(targeted.needed, frozenset())
    entry = targeted.entry(kept, frozenset())
    assert full is not None
    assert entry is not None
    with_hormone = [
        combo
        for combo in full.regimens
        if any(vocabulary.agents[a].category == "hormone_therapy" for a in combo)
    ]
    assert with_hormone  # the bundled rules do name such regimens
    assert not set(with_hormone) & set(entry.regimens)
    _arranged_both_ways(chosen, frozenset(), Standing(hormone_receptor_positive=True), False)

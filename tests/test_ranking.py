"""Ranking is a pure, deterministic function of the rules that fired."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mbc_rules import Rulebase
from mbc_rules.rank import rank
from mbc_rules.schema import Citation, Rule


def bundled() -> Rulebase:
    # Built when a test runs, not at import: a bad rule fails tests instead of collection.
    return Rulebase.bundled(engine="python")


def make_rule(rule_id: str, then: dict[str, Any], sources: tuple[str, ...] = ("acs",)) -> Rule:
    return Rule.model_validate(
        {
            "id": rule_id,
            "title": rule_id,
            "when": {"fact": "sex", "in": ["female", "male", "unknown"]},
            "then": then,
            "citations": [
                Citation(statement=f"{s}-test-1", source=s, section="s", excerpt="an excerpt")
                for s in sources
            ],
            "examples": [{"profile": {}, "fires": True}],
        }
    )


def offer(category: str, tier: str, agents: list[str] | None = None) -> dict[str, Any]:
    return {"offer": {"category": category, "tier": tier, "agents": agents or []}}


def ranked(*rules: Rule) -> list[tuple[int, str, str]]:
    options, _, _ = rank(list(rules), bundled().vocabulary, bundled().sources)
    return [(o.rank, o.category, o.tier) for o in options]


def test_tier_comes_first_then_sources_then_the_documented_order() -> None:
    result = ranked(
        make_rule("rule-c", offer("chemotherapy", "option"), ("acs", "webmd", "pdq")),
        make_rule("rule-h", offer("hormone_therapy", "preferred")),
        make_rule("rule-s", offer("surgery", "situational"), ("acs", "webmd", "pdq", "mlh")),
        make_rule("rule-t", offer("targeted_therapy", "option")),
    )
    assert result == [
        (1, "hormone_therapy", "preferred"),
        (2, "chemotherapy", "option"),
        (3, "targeted_therapy", "option"),
        (4, "surgery", "situational"),
    ]


def test_ties_share_a_rank_and_ranks_have_no_gaps() -> None:
    result = ranked(
        make_rule("rule-r", offer("radiation_therapy", "option")),
        make_rule("rule-c", offer("chemotherapy", "option")),
        make_rule("rule-s", offer("surgery", "situational")),
    )
    assert result == [
        (1, "chemotherapy", "option"),
        (1, "radiation_therapy", "option"),
        (2, "surgery", "situational"),
    ]


def test_supportive_care_is_never_ranked_above_an_anticancer_option() -> None:
    result = ranked(
        make_rule(
            "rule-p", offer("palliative_care", "preferred", ["palliative_care"]), ("acs", "webmd")
        ),
        make_rule("rule-s", offer("surgery", "situational")),
    )
    assert result == [(1, "surgery", "situational"), (2, "palliative_care", "preferred")]


def test_firing_order_does_not_change_the_answer() -> None:
    rules = [
        make_rule("rule-a", offer("hormone_therapy", "option", ["tamoxifen"])),
        make_rule("rule-b", offer("hormone_therapy", "preferred", ["letrozole"]), ("acs", "pdq")),
        make_rule("rule-c", offer("chemotherapy", "option")),
    ]
    forward = rank(rules, bundled().vocabulary, bundled().sources)[0]
    backward = rank(rules[::-1], bundled().vocabulary, bundled().sources)[0]
    assert [o.agents for o in forward] == [o.agents for o in backward]
    assert forward[0].agents == ("letrozole", "tamoxifen")


def test_not_recommended_removes_a_category_and_regimens_that_use_it() -> None:
    rules = [
        make_rule("rule-h", offer("hormone_therapy", "preferred", ["tamoxifen"])),
        make_rule(
            "rule-t",
            {
                "offer": {
                    "category": "targeted_therapy",
                    "tier": "option",
                    "regimens": [
                        {"agents": ["trastuzumab", "hormone_therapy"]},
                        {"agents": ["trastuzumab", "chemotherapy"]},
                    ],
                }
            },
        ),
        make_rule("not-rec", {"not_recommended": {"category": "hormone_therapy", "reason": "r"}}),
    ]
    options, not_recommended, _ = rank(rules, bundled().vocabulary, bundled().sources)
    assert [o.category for o in options] == ["targeted_therapy"]
    assert [r.name for r in options[0].regimens] == ["trastuzumab with chemotherapy"]
    assert not_recommended[0].category == "hormone_therapy"
    assert not_recommended[0].citations[0].publisher == "American Cancer Society"


def test_not_recommended_agents_are_removed_and_a_rule_left_empty_does_not_count() -> None:
    rules = [
        make_rule("rule-a", offer("hormone_therapy", "preferred", ["toremifene"])),
        make_rule("rule-b", offer("hormone_therapy", "option", ["tamoxifen"])),
        make_rule("not-rec", {"not_recommended": {"agents": ["toremifene"], "reason": "r"}}),
    ]
    options, _, _ = rank(rules, bundled().vocabulary, bundled().sources)
    assert options[0].agents == ("tamoxifen",)
    assert options[0].tier == "option"
    assert options[0].rule_ids == ("rule-b",)


@pytest.mark.parametrize(
    "profile",
    [
        {"er_status": "positive", "metastatic_sites": ["bone", "liver"]},
        {"er_status": "negative", "pr_status": "negative", "her2_status": "positive"},
        {},
    ],
)
def test_ranks_start_at_one_without_gaps(rulebase: Rulebase, profile: dict[str, Any]) -> None:
    ranks = [o.rank for o in rulebase.evaluate(profile).options]
    assert ranks[0] == 1
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(ranks))


def test_a_ruled_out_category_is_not_offered_even_when_its_rule_names_no_drug() -> None:
    # A category offered without agents must still give way to a statement that rules the
    # whole category out (removing its agents alone would leave the bare category offered).
    rules = [
        make_rule("rule-c", offer("chemotherapy", "option")),
        make_rule("rule-h", offer("hormone_therapy", "preferred", ["tamoxifen"])),
        make_rule("not-rec", {"not_recommended": {"category": "chemotherapy", "reason": "r"}}),
    ]
    options, not_recommended, _ = rank(rules, bundled().vocabulary, bundled().sources)
    assert [o.category for o in options] == ["hormone_therapy"]
    assert [n.category for n in not_recommended] == ["chemotherapy"]

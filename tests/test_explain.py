"""Why and why not: explanations name the rules, the conditions met and the one that failed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mbc_rules
from mbc_rules import Evaluation, MbcRulesError, Rulebase, UnknownAgentError

from .conftest import write_rules
from .test_rule_errors import GOOD_RULE as LOCAL_RULE

AFTER_AI = {
    "er_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "prior_therapies": [{"agent": "letrozole", "outcome": "progressed"}],
}


def test_why_not_names_the_failed_condition_and_the_profile_value(rulebase: Rulebase) -> None:
    explanation = rulebase.explain(rulebase.evaluate(AFTER_AI), "alpelisib")
    assert not explanation.offered
    # Two rules name alpelisib (PDQ just diagnosed, ACS after an aromatase inhibitor).
    rule = next(
        r for r in explanation.rules if r.rule_id == "alpelisib-pik3ca-after-aromatase-inhibitor"
    )
    assert [(c.fact, c.actual) for c in rule.failed] == [("pik3ca_status", "unknown")]
    # Programs read the rule's terms; people read words.
    assert rule.needs == "needs pik3ca_status = positive; this profile's pik3ca_status is unknown"
    assert explanation.verdict == (
        "alpelisib: not offered: waiting on a test: PIK3CA status not known."
    )
    assert "a PIK3CA mutation in the tumour (this patient: PIK3CA status not known)" in str(
        explanation
    )
    assert "pik3ca_status" not in str(explanation)


def test_once_the_condition_holds_the_same_rule_offers_it(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({**AFTER_AI, "pik3ca_status": "positive"})
    explanation = rulebase.explain(result, "Piqray")
    assert explanation.subject == "alpelisib"
    assert explanation.offered
    rule = next(
        r for r in explanation.rules if r.rule_id == "alpelisib-pik3ca-after-aromatase-inhibitor"
    )
    assert rule.fired
    assert {c.fact for c in rule.met} >= {"pik3ca_status", "aromatase_inhibitor_failed"}
    assert rule.citations[0].excerpt.startswith("Alpelisib is a targeted drug")


def test_a_category_lists_the_rules_that_offer_it_first(rulebase: Rulebase) -> None:
    explanation = rulebase.explain(rulebase.evaluate(AFTER_AI), "hormone_therapy")
    assert explanation.offered
    assert explanation.rank is not None
    fired = [r.fired for r in explanation.rules]
    assert fired == sorted(fired, reverse=True)
    first_line = next(r for r in explanation.rules if r.rule_id == "hr-positive-endocrine-first")
    assert not first_line.fired
    assert [(c.fact, c.actual) for c in first_line.failed] == [("lines_failed", 1)]


def test_not_recommended_is_explained(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({"er_status": "negative", "pr_status": "negative"})
    explanation = rulebase.explain(result, "tamoxifen")
    assert explanation.not_recommended
    text = str(explanation)
    assert text.startswith("tamoxifen: not offered: hormone therapy isn't helpful")
    assert "[hr-negative-no-hormone-therapy]: rules it out: hormone receptor negative" in text


def test_an_unknown_subject_suggests_names(bundled: Rulebase) -> None:
    result = bundled.evaluate(AFTER_AI)
    with pytest.raises(UnknownAgentError, match="alpelisib"):
        bundled.explain(result, "alpelisb")


def test_a_result_read_back_from_json_still_explains(bundled: Rulebase) -> None:
    result = bundled.evaluate(AFTER_AI)
    again = Evaluation.model_validate_json(result.model_dump_json())
    explanation = mbc_rules.explain(again, "alpelisib")
    assert explanation.model_dump_json() == bundled.explain(result, "alpelisib").model_dump_json()
    assert not explanation.offered


def test_a_result_of_another_rulebase_is_not_explained_with_this_one(
    bundled: Rulebase, tmp_path: Path
) -> None:
    write_rules(tmp_path, "local.yaml", LOCAL_RULE)
    local = Rulebase.load(tmp_path)
    result = local.evaluate({"her2_status": "positive"})
    with pytest.raises(MbcRulesError, match="another rulebase"):
        bundled.explain(result, "trastuzumab")
    assert local.explain(result, "trastuzumab").offered


RULE_VOCABULARY = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b|[≤≥≠=]")


def _words_only(text: str) -> str:
    # Rule ids in brackets and quoted source sentences are not the library's words.
    return re.sub(r'\[[a-z0-9-]+\]|"[^"]*"', "", text)


def test_the_decisive_reason_comes_first_for_a_drug_that_failed(rulebase: Rulebase) -> None:
    explanation = rulebase.explain(rulebase.evaluate(AFTER_AI), "letrozole")
    assert not explanation.offered
    assert explanation.verdict.startswith("letrozole: not offered: the cancer grew on letrozole")
    assert explanation.reasons[0].lower().startswith("the cancer grew on letrozole")
    assert any("aromatase inhibitor" in reason for reason in explanation.reasons[:2])
    lines = str(explanation).splitlines()
    assert lines[0] == explanation.verdict
    # The first reason, before anything else.
    assert lines[3].lower().startswith("- the cancer grew on letrozole")
    # An irrelevant rule (one about hormone receptor negative cancer) is never first.
    assert "hr-negative" not in explanation.rules[0].rule_id
    assert not RULE_VOCABULARY.search(_words_only(str(explanation)))


def test_an_any_condition_is_explained_with_or(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(
        {"er_status": "negative", "pr_status": "negative", "metastatic_sites": ["liver"]}
    )
    explanation = rulebase.explain(result, "denosumab")
    assert not explanation.offered
    rule = next(r for r in explanation.rules if r.rule_id == "bone-modifying-drugs")
    assert rule.said == (
        "would offer it with either spread to bone (this patient: no spread to bone reported) "
        "or spread to spine (this patient: no spread to spine reported)"
    )
    assert explanation.verdict == "denosumab: not offered: no spread to bone reported."
    assert "either spread to bone" in str(explanation)


def test_an_offered_option_says_where_it_ranks_and_why(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(AFTER_AI)
    explanation = rulebase.explain(result, "hormone_therapy")
    option = result.option("hormone_therapy")
    assert option is not None
    tied = [o for o in result.options if o.rank == option.rank and o is not option]
    label = f"rank {option.rank} of {len(result.options)}{' (tied)' if tied else ''}"
    assert explanation.verdict == f"hormone therapy: offered, {label}, {option.tier}."
    assert explanation.ranking[0].startswith(f"tier: {option.tier}")
    publishers = {c.publisher for c in option.citations}
    assert all(p in explanation.ranking[1] for p in publishers)
    if tied:
        assert any(
            line.startswith(f"shares rank {option.rank} with") for line in explanation.ranking
        )
    # Each reason is a sentence that put it there, with its source's words.
    fired = [r for r in explanation.rules if r.fired and r.counted and r.effect == "offer"]
    assert len(explanation.reasons) == len(fired)
    assert all(
        f'"{r.citations[0].excerpt}"' in reason
        for r, reason in zip(fired, explanation.reasons, strict=True)
    )
    assert not RULE_VOCABULARY.search(_words_only(str(explanation)))


def test_an_explanation_has_an_html_view(rulebase: Rulebase) -> None:
    explanation = rulebase.explain(rulebase.evaluate(AFTER_AI), "letrozole")
    html = explanation._repr_html_()
    assert "color:#cf222e" in html  # not offered: red
    assert "letrozole: not offered: the cancer grew on letrozole" in html
    assert not re.search(r"<li[^>]*></li>", html)  # no empty points from blank lines
    assert re.search(r"<div style='[^']*'>What keeps it out:</div><ul", html)
    # Each reason is a point; each quoted sentence sits under the rule it supports.
    points = re.findall(r"<li style='[^']*'>(.*?)</li>", html)
    assert len(points) >= len(explanation.reasons)
    assert any("&quot;" in p and "<div" in p for p in points)
    assert "<script" not in html


HER2_POSITIVE = {"her2_status": "positive", "er_status": "negative", "pr_status": "negative"}


def test_every_offered_category_is_explained_at_its_own_rank(bundled: Rulebase) -> None:
    result = bundled.evaluate(HER2_POSITIVE)
    # A regimen member named "chemotherapy" sits in the rank-1 targeted option; the
    # chemotherapy category itself is ranked lower, and its explanation must say so.
    chemotherapy = result.option("chemotherapy")
    assert chemotherapy is not None
    assert chemotherapy.rank > 1
    for option in result.options:
        explanation = bundled.explain(result, option.category)
        assert explanation.offered
        assert explanation.rank == option.rank, option.category


def test_an_agent_is_explained_at_the_rank_of_the_first_option_naming_it(
    bundled: Rulebase,
) -> None:
    result = bundled.evaluate(HER2_POSITIVE)
    for option in result.options:
        for agent in option.agents:
            first = next(
                o
                for o in result.options
                if agent in o.agents or any(agent in r.agents for r in o.regimens)
            )
            assert bundled.explain(result, agent).rank == first.rank, agent


def test_a_rule_that_speaks_only_of_women_does_not_offer_for_a_man(bundled: Rulebase) -> None:
    profile = {
        "sex": "male",
        "brca_status": "positive",
        "her2_status": "negative",
        "er_status": "negative",
        "pr_status": "negative",
    }
    result = bundled.evaluate(profile)
    explanation = bundled.explain(result, "chemotherapy")
    rule = next(r for r in explanation.rules if r.rule_id == "brca-her2-negative-chemotherapy")
    assert rule.fired
    assert not rule.counted
    assert "brca-her2-negative-chemotherapy offers it" not in explanation.text
    assert (
        "[brca-her2-negative-chemotherapy]: its sources speak only of women, so it does not "
        "count for this patient"
    ) in str(explanation)
    woman = bundled.evaluate({**profile, "sex": "female"})
    assert next(
        r for r in bundled.explain(woman, "chemotherapy").rules if r.rule_id == rule.rule_id
    ).counted


def test_explain_shows_where_the_sources_differ_on_when(rulebase: Rulebase) -> None:
    # PDQ lists PARP inhibitors for women just diagnosed; ACS only after chemotherapy.
    profile = {
        "er_status": "positive",
        "her2_status": "negative",
        "brca_status": "positive",
        "menopausal_status": "postmenopausal",
        "prior_therapies": [],
    }
    explanation = rulebase.explain(rulebase.evaluate(profile), "olaparib")
    assert explanation.offered
    assert explanation.agreement is not None
    assert any(c.source == "acs" for c in explanation.agreement.conditions_not_met)
    assert "Where the sources differ on when:" in str(explanation)
    assert "American Cancer Society names it for another time" in str(explanation)
    waiting = [c for c in explanation.agreement.conditions_not_met if c.source == "acs"]
    assert any("chemotherapy_given = true" in c.condition for c in waiting)


SMOKE_PROFILES = [
    {},
    {"sex": "male", "er_status": "positive", "her2_status": "negative", "brca_status": "positive"},
    {
        "er_status": "negative",
        "pr_status": "negative",
        "her2_status": "positive",
        "metastatic_sites": ["brain"],
        "brain_metastases": "few",
        "prior_therapies": [
            {"agent": "trastuzumab", "outcome": "progressed"},
            {"agent": "pertuzumab", "outcome": "progressed", "line": 1},
        ],
    },
    {
        "er_status": "positive",
        "menopausal_status": "premenopausal",
        "complications": ["visceral_crisis"],
        "metastatic_sites": ["liver"],
    },
]


@pytest.mark.parametrize("profile", SMOKE_PROFILES)
def test_no_explanation_of_any_subject_speaks_rule_vocabulary(
    bundled: Rulebase, profile: dict[str, object]
) -> None:
    from mbc_rules.vocabulary import CATEGORIES

    result = bundled.evaluate(profile)
    for subject in [*CATEGORIES, *bundled.vocabulary.agents]:
        explanation = bundled.explain(result, subject)
        text = str(explanation)
        assert text.startswith(explanation.name), subject
        assert text.splitlines()[0] == explanation.verdict
        assert not RULE_VOCABULARY.search(_words_only(text)), (subject, text)


def test_a_drug_whose_sentences_give_a_weaker_tier_says_so_in_its_verdict() -> None:
    # PDQ names margetuximab with no time (situational, WebMD: after two HER2-targeted drugs);
    # its option, targeted therapy, is preferred (YSC: "All therapies will involve the use of
    # anti-HER2 treatment"). The views mark it "margetuximab (situational)"; so does explain.
    rulebase = Rulebase.bundled(engine="python")
    result = rulebase.evaluate(
        {"er_status": "negative", "pr_status": "negative", "her2_status": "positive"}
    )
    verdict = rulebase.explain(result, "margetuximab").verdict
    assert verdict.endswith("preferred (margetuximab itself: situational).")
    assert rulebase.explain(result, "trastuzumab").verdict.endswith(", preferred.")

"""Issue 10: what stopped working, the sources' own orderings, and where the sources disagree.

Each test is one finding of the issue, named after the situation, and asserts what the five
sources say for it (the comment names the sentence).
"""

from __future__ import annotations

from typing import Any

import pytest

from mbc_rules import Evaluation, Rulebase

HR_POS_HER2_NEG = {"er_status": "positive", "pr_status": "positive", "her2_status": "negative"}
HER2_POS = {"er_status": "negative", "pr_status": "negative", "her2_status": "positive"}
TNBC = {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
POST = {"menopausal_status": "postmenopausal"}
PRE = {"menopausal_status": "premenopausal"}
KNOWN: dict[str, Any] = {"complications": []}


def history(*entries: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    therapies = []
    for entry in entries:
        agent, outcome, *setting = entry
        therapies.append(
            {"agent": agent, "outcome": outcome, "setting": setting[0] if setting else "metastatic"}
        )
    return {"prior_therapies": therapies, **KNOWN}


def progressed(*agents: str) -> dict[str, Any]:
    return history(*((a, "progressed") for a in agents))


def offered_agents(result: Evaluation) -> set[str]:
    """Every drug offered, alone or inside a regimen."""
    agents: set[str] = set()
    for option in result.options:
        agents.update(option.agents)
        agents.update(a for regimen in option.regimens for a in regimen.agents)
    return agents


def rank_of(result: Evaluation, category: str) -> int:
    option = next((o for o in result.options if o.category == category), None)
    assert option is not None, f"{category} not offered: {result.categories}"
    return option.rank


# --- 1. What the cancer grew on is offered again ---


def test_premenopausal_progressed_on_tamoxifen_is_not_offered_tamoxifen(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **PRE, **progressed("tamoxifen")})
    assert "tamoxifen" not in offered_agents(result)
    hormone = result.option("hormone_therapy")
    assert hormone is not None
    assert hormone.tier != "preferred"
    grown = [item for item in result.not_recommended if item.agents == ("tamoxifen",)]
    assert grown
    assert "grew on" in grown[0].reason
    assert any("stops working" in c.excerpt for c in grown[0].citations)


def test_after_letrozole_fulvestrant_and_tamoxifen_none_is_offered_again(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, **progressed("letrozole", "fulvestrant", "tamoxifen")}
    )
    assert {"letrozole", "fulvestrant", "tamoxifen"}.isdisjoint(offered_agents(result))


def test_kadcyla_is_not_offered_after_kadcyla_progressed(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(
        {**HER2_POS, **progressed("trastuzumab", "ado_trastuzumab_emtansine")}
    )
    assert "ado_trastuzumab_emtansine" not in offered_agents(result)


def test_palbociclib_is_not_offered_after_palbociclib_with_letrozole_progressed(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, **progressed("palbociclib", "letrozole")}
    )
    assert {"palbociclib", "letrozole"}.isdisjoint(offered_agents(result))


def test_letrozole_is_not_offered_after_recurrence_during_adjuvant_letrozole(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, **history(("letrozole", "progressed", "early"))}
    )
    assert "letrozole" not in offered_agents(result)
    grown = next(i for i in result.not_recommended if i.agents == ("letrozole",))
    assert "adjuvant" in grown.reason


def test_recurrence_after_completed_adjuvant_tamoxifen_is_not_growth_on_it(
    rulebase: Rulebase,
) -> None:
    # Issue 19: completed is not progressed. The sources speak of growth "while being treated
    # with" a drug; a course that ran its length was given before, not grown on.
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **PRE, **history(("tamoxifen", "completed", "early"))}
    )
    hormone = result.option("hormone_therapy")
    assert hormone is not None
    assert "tamoxifen" in hormone.agents
    assert [g.agent for g in hormone.given_before] == ["tamoxifen"]
    assert not any("tamoxifen" in item.agents for item in result.not_recommended)


def test_trastuzumab_continues_only_in_the_regimens_a_sentence_continues(
    rulebase: Rulebase,
) -> None:
    # ACS: "Pertuzumab (Perjeta) with chemo and trastuzumab" after progression on HER2 drugs;
    # WebMD: tucatinib "often given with trastuzumab and the chemo drug capecitabine".
    result = rulebase.evaluate({**HER2_POS, **progressed("trastuzumab")})
    targeted = result.option("targeted_therapy")
    assert targeted is not None
    assert "trastuzumab" not in targeted.agents
    with_trastuzumab = {r.name for r in targeted.regimens if "trastuzumab" in r.agents}
    assert with_trastuzumab
    assert all("pertuzumab" in n.lower() or "tucatinib" in n.lower() for n in with_trastuzumab)
    item = next(i for i in result.not_recommended if i.agents == ("trastuzumab",))
    assert "continues it only in" in item.reason


def test_a_drug_stopped_for_intolerance_is_marked_as_given_before(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **history(("letrozole", "intolerant"))})
    hormone = result.option("hormone_therapy")
    assert hormone is not None
    assert "letrozole" in hormone.agents
    assert [(g.agent, g.outcome) for g in hormone.given_before] == [("letrozole", "intolerant")]
    assert not any(i.agents == ("letrozole",) for i in result.not_recommended)


@pytest.mark.parametrize(
    "agent", ["yoga", "palliative_care", "clinical_trial_enrollment", "zoledronic_acid"]
)
def test_supportive_care_or_trial_in_a_history_is_not_a_failed_line(
    rulebase: Rulebase, agent: str
) -> None:
    untreated = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **history()})
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **history((agent, "progressed"))})
    assert result.fired_rules == untreated.fired_rules
    assert result.categories == untreated.categories


def test_first_treatment_rules_do_not_fire_after_a_metastatic_failure(rulebase: Rulebase) -> None:
    first_line = {
        "hr-positive-endocrine-first",
        "aromatase-inhibitors-first-after-menopause",
        "postmenopausal-first-line-hormone-therapy",
    }
    untreated = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **history()})
    assert first_line <= set(untreated.fired_rules)
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **progressed("palbociclib")})
    assert first_line.isdisjoint(result.fired_rules)


# --- 2. The sources' orderings ---


def test_after_one_aromatase_inhibitor_hormone_therapy_ranks_above_chemotherapy(
    rulebase: Rulebase,
) -> None:
    # YSC: "Chemotherapy is typically used only when endocrine therapy fails."
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, "metastatic_sites": ["liver"], **progressed("anastrozole")}
    )
    assert rank_of(result, "hormone_therapy") < rank_of(result, "chemotherapy")
    chemotherapy = result.option("chemotherapy")
    assert chemotherapy is not None
    assert any(n.topic == "after_hormone_therapy" for n in chemotherapy.notes)


def test_after_two_hormone_classes_chemotherapy_is_not_first_while_hormone_options_remain(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, **progressed("letrozole", "fulvestrant")}
    )
    assert result.options[0].category == "hormone_therapy"
    assert "exemestane" in offered_agents(result)
    assert rank_of(result, "targeted_therapy") < rank_of(result, "chemotherapy")


def test_when_no_hormone_option_is_left_chemotherapy_is_the_next_step(
    rulebase: Rulebase,
) -> None:
    # ACS: "If the cancer is no longer responding to any hormone drugs, chemotherapy is usually
    # the next step."
    every_hormone_drug = [
        "tamoxifen",
        "toremifene",
        "fulvestrant",
        "letrozole",
        "anastrozole",
        "exemestane",
    ]
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **progressed(*every_hormone_drug)})
    assert result.option("hormone_therapy") is None
    assert result.options[0].category == "chemotherapy"
    assert result.options[0].tier == "preferred"


def test_systemic_drugs_rank_above_surgery_for_liver_and_lung_spread(rulebase: Rulebase) -> None:
    # ACS: "Although systemic drugs are the main treatment for stage IV breast cancer, ..."
    result = rulebase.evaluate(
        {
            **TNBC,
            "metastatic_sites": ["liver", "lung"],
            "resectable_sites": ["liver", "lung"],
            **history(),
        }
    )
    assert rank_of(result, "chemotherapy") < rank_of(result, "surgery")
    surgery = result.option("surgery")
    assert surgery is not None
    assert any(n.topic == "after_systemic_treatment" for n in surgery.notes)


def test_her2_positive_anti_her2_treatment_leads_and_ties_nothing(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(
        {**HER2_POS, "er_status": "positive", **POST, "metastatic_sites": ["bone"], **history()}
    )
    assert result.options[0].category == "targeted_therapy"
    assert rank_of(result, "targeted_therapy") < rank_of(result, "hormone_therapy")


def test_her2_positive_every_anticancer_option_includes_anti_her2_or_says_why(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate({**HER2_POS, "metastatic_sites": ["liver"], **history()})
    for option in result.options:
        if option.category in ("hormone_therapy", "chemotherapy", "immunotherapy"):
            notes = [n for n in option.notes if n.topic == "with_anti_her2_treatment"]
            assert notes, option.category
            assert "trastuzumab" in notes[0].text
            assert "All therapies will involve" in notes[0].citations[0].excerpt


def test_hormone_combinations_do_not_outrank_hormone_therapy(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **progressed("tamoxifen")})
    assert rank_of(result, "hormone_therapy") < rank_of(result, "targeted_therapy")


def test_serious_problems_from_the_spread_put_chemotherapy_first(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, **history(), "complications": ["visceral_crisis"]}
    )
    assert result.options[0].category == "chemotherapy"
    assert "hormone_therapy" in result.categories


# --- 3. No condition and no indication without a sentence ---


def test_sacituzumab_for_hr_positive_does_not_require_prior_chemotherapy(
    rulebase: Rulebase,
) -> None:
    # PDQ: "also approved for certain patients with metastatic hormone receptor positive and
    # HER2-negative breast cancer": vague, so situational, with no condition from elsewhere.
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **history()})
    targeted = result.option("targeted_therapy")
    assert targeted is not None
    assert "sacituzumab_govitecan" in targeted.agents
    rule = rulebase.rule("sacituzumab-govitecan-hr-positive-her2-negative")
    assert rule.then.offer is not None
    assert rule.then.offer.tier == "situational"
    assert "certain patients" in rule.title


def test_bevacizumab_is_offered_only_with_a_chemotherapy_option(rulebase: Rulebase) -> None:
    # WebMD: the targeted drugs "along with chemotherapy".
    first_line = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, "metastatic_sites": ["bone"], **history()}
    )
    assert first_line.option("chemotherapy") is None
    assert "bevacizumab" not in offered_agents(first_line)
    tnbc = rulebase.evaluate({**TNBC, **history()})
    targeted = tnbc.option("targeted_therapy")
    assert targeted is not None
    assert tnbc.option("chemotherapy") is not None
    with_bevacizumab = [r.agents for r in targeted.regimens if "bevacizumab" in r.agents]
    assert with_bevacizumab == [("bevacizumab", "chemotherapy")]
    for rule in rulebase.rules:
        if rule.then.offer is not None:
            assert "bevacizumab" not in rule.then.offer.agents, rule.id


def test_neratinib_capecitabine_for_brain_spread_needs_progression_on_her2_drugs(
    rulebase: Rulebase,
) -> None:
    # ACS gives it under "Progression while being treated with HER2 drugs", "also".
    before = rulebase.evaluate({**HER2_POS, "metastatic_sites": ["brain"], **history()})
    assert "neratinib" not in offered_agents(before)
    after = rulebase.evaluate(
        {**HER2_POS, "metastatic_sites": ["brain"], **progressed("trastuzumab")}
    )
    assert "neratinib" in offered_agents(after)


def test_no_hormone_regimen_where_the_receptor_status_is_unknown(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({"her2_status": "positive", **PRE, **progressed("trastuzumab")})
    for option in result.options:
        for regimen in option.regimens:
            assert not any(
                rulebase.vocabulary[a].category == "hormone_therapy" for a in regimen.agents
            ), regimen.name


def test_no_liver_surgery_where_operability_is_unknown(rulebase: Rulebase) -> None:
    # YSC: "The goal is to remove liver metastases if possible through surgery".
    result = rulebase.evaluate({**TNBC, "metastatic_sites": ["liver"], **history()})
    assert "liver-metastases-removal" not in result.fired_rules


def test_every_clinical_trial_rule_cites_a_sentence_about_trials(rulebase: Rulebase) -> None:
    for rule in rulebase.rules:
        if rule.then.offer is not None and rule.then.offer.category == "clinical_trial":
            assert any("trial" in c.excerpt.lower() for c in rule.citations), rule.id


def test_lung_spread_gets_surgery_or_radiation_to_relieve_symptoms(rulebase: Rulebase) -> None:
    # Main Line Health: "Surgery and/or radiation therapy may be used to remove cancer that has
    # spread to areas such as the brain, spine or lung ... to prevent or relieve pain".
    result = rulebase.evaluate({**TNBC, "metastatic_sites": ["lung"], **history()})
    assert "radiation_therapy" in result.categories


def test_chest_wall_spread_gets_radiation_without_a_symptom_recorded(rulebase: Rulebase) -> None:
    # PDQ: "Radiation therapy to the bones, brain, spinal cord, breast, or chest wall to relieve
    # symptoms": a purpose, not a condition.
    result = rulebase.evaluate({**TNBC, "metastatic_sites": ["chest_wall"], **history()})
    assert "radiation_therapy" in result.categories


def test_biopsy_advice_is_given_to_everyone(rulebase: Rulebase) -> None:
    # YSC: "If possible, your metastases will be biopsied to determine their characteristics."
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **history()})
    assert "biopsy_metastasis" in {a.topic for a in result.advice}


def test_premenopausal_tamoxifen_is_an_option_not_preferred(rulebase: Rulebase) -> None:
    rule = rulebase.rule("premenopausal-tamoxifen-or-ovarian-suppression")
    assert rule.then.offer is not None
    assert rule.then.offer.tier == "option"
    assert rule.tier_word == "often"


def test_fulvestrant_before_other_hormone_therapy_is_situational(rulebase: Rulebase) -> None:
    # WebMD: "Sometimes they recommend it for advanced breast cancer if you haven't been treated
    # with other hormone therapies."
    rule = rulebase.rule("fulvestrant-after-menopause")
    assert rule.then.offer is not None
    assert rule.then.offer.tier == "situational"
    assert rule.tier_word == "Sometimes"


def test_palliative_care_names_anti_nausea_drugs_and_antidepressants(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({**TNBC, **history()})
    palliative = result.option("palliative_care")
    assert palliative is not None
    assert {"anti_nausea_drugs", "antidepressants"} <= set(palliative.agents)


# --- 4. Source agreement ---


def test_parp_inhibitor_just_diagnosed_is_situational_and_shows_the_acs_condition(
    rulebase: Rulebase,
) -> None:
    # PDQ lists PARP inhibitors for postmenopausal women just diagnosed; ACS "after getting
    # chemo".
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, "brca_status": "positive", **history()})
    targeted = result.option("targeted_therapy")
    assert targeted is not None
    assert "olaparib" in offered_agents(result)
    waiting = [c for c in targeted.agreement.conditions_not_met if "olaparib" in c.agents]
    assert {c.source for c in waiting} >= {"acs"}
    assert any("chemotherapy_given" in " ".join(c.condition) for c in waiting)
    assert "pdq" in targeted.agreement.supporting


def test_agreement_never_lists_a_supporting_source_as_naming_it_only_elsewhere(
    rulebase: Rulebase,
) -> None:
    # Issue 19: "YSC names it only when the cancer grew on a hormone therapy" stood beside
    # YSC's own "First-line therapy is endocrine". ACS offers alpelisib with fulvestrant here
    # (its PIK3CA sentence has no condition on the history), so its later-line sentence is not
    # a condition not met.
    result = rulebase.evaluate(
        {**HR_POS_HER2_NEG, **POST, "pik3ca_status": "positive", **history()}
    )
    targeted = result.option("targeted_therapy")
    assert targeted is not None
    assert "alpelisib" in offered_agents(result)
    assert "acs" in targeted.agreement.supporting
    alpelisib = [c for c in targeted.agreement.conditions_not_met if "alpelisib" in c.agents]
    assert alpelisib == []
    # Drug by drug, on the whole answer: no condition line names a drug that its own source
    # offers here through a fired rule of the option.
    by_id = {rule.id: rule for rule in rulebase.rules}
    for option in result.options:
        for condition in option.agreement.conditions_not_met:
            for rule_id in option.rule_ids:
                offer = by_id[rule_id].then.offer
                assert offer is not None
                offered = set(offer.agents) | {a for r in offer.regimens for a in r.agents}
                if condition.source in {c.source for c in by_id[rule_id].citations}:
                    # A category-wide offer: no line, but for a drug offered here only for some
                    # patients (situational) whose own sentence names another time.
                    assert offered or condition.agents, (condition, rule_id)
                    assert offered.isdisjoint(condition.agents), (condition, rule_id)


def test_agreement_is_in_the_json_and_its_schema(rulebase: Rulebase) -> None:
    from mbc_rules.evaluation import Evaluation as Model

    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, "brca_status": "positive", **history()})
    data = result.model_dump(mode="json")
    assert "agreement" in data["options"][0]
    assert Model.model_validate_json(result.model_dump_json()) == result
    schema = Model.model_json_schema()
    assert "Agreement" in schema["$defs"]


# --- Issue 13 item 4: unknown history is not no history ---


def test_an_omitted_history_is_unknown_and_the_answer_says_it_assumes_none(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **KNOWN})
    assert any("assumes no earlier treatment" in c for c in result.caveats)
    tests = {t.status: t for t in rulebase.informative_tests(result)}
    history_test = tests["prior_therapies"]
    assert any(o.value.endswith("progressed") for o in history_test.outcomes)


def test_an_empty_history_means_none_and_says_nothing(rulebase: Rulebase) -> None:
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, **history()})
    assert not any("earlier treatment" in c for c in result.caveats)
    assert "prior_therapies" not in {t.status for t in rulebase.informative_tests(result)}


def test_omitted_complications_are_unknown_and_named_where_they_matter(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate({**HR_POS_HER2_NEG, **POST, "prior_therapies": []})
    assert any("Complications are not given" in c for c in result.caveats)
    tests = {t.status: t for t in rulebase.informative_tests(result)}
    crisis = next(o for o in tests["complications"].outcomes if o.value == "visceral_crisis")
    assert any(c.category == "chemotherapy" for c in crisis.rank_changes) or (
        "chemotherapy" in crisis.options_appear
    )


# --- 5. Tier words ---


def test_every_offering_rule_names_a_tier_word_of_its_tier(rulebase: Rulebase) -> None:
    from mbc_rules.vocabulary import TIER_WORDS

    for rule in rulebase.rules:
        if rule.then.offer is None:
            continue
        if rule.situational_because is not None:
            assert rule.then.offer.tier == "situational", rule.id
            continue
        assert rule.tier_word is not None, rule.id
        assert rule.tier_word.casefold() in TIER_WORDS[rule.then.offer.tier], rule.id


def test_failed_of_is_the_history_s_failed_set_without_building_the_history() -> None:
    """The columnar engine reads what the cancer grew on with failed_of: the same set as
    history_of(...).failed, for every drawn history (and for none, and an empty one)."""
    import random

    from mbc_rules.facts import failed_of, history_of

    from .strategies import random_profile

    rulebase = Rulebase.bundled(engine="compiled")
    rng = random.Random(31)
    for _ in range(800):
        therapies = rulebase.read_profile(random_profile(rng)).prior_therapies
        expected = history_of(therapies, rulebase.vocabulary).failed
        assert failed_of(therapies, rulebase.vocabulary) == expected
    assert failed_of(None, rulebase.vocabulary) == frozenset()
    assert failed_of([], rulebase.vocabulary) == frozenset()


def test_a_history_is_remembered_per_vocabulary() -> None:
    """What the cancer grew on depends on the vocabulary's drug classes: a vocabulary in which
    albumin-bound paclitaxel is a drug of its own does not share the bundled vocabulary's
    reading of the same entries, remembered or not."""
    import dataclasses

    from mbc_rules.facts import history_of
    from mbc_rules.profile import PriorTherapy
    from mbc_rules.vocabulary import Vocabulary

    bundled = Rulebase.bundled(engine="compiled").vocabulary
    apart = Vocabulary.of(
        (
            dataclasses.replace(agent, same_drug_as=None, classes=())
            for agent in bundled.agents.values()
        ),
        bundled.classes.values(),
    )
    therapies = [PriorTherapy(agent="albumin_bound_paclitaxel", outcome="progressed")]
    assert "paclitaxel" in history_of(therapies, bundled).failed
    assert history_of(therapies, apart).failed == frozenset({"albumin_bound_paclitaxel"})
    assert "paclitaxel" in history_of(therapies, bundled).failed

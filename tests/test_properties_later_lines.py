"""Properties of answers for patients with a treatment history (issue 10).

Generated profiles of each subtype, with histories of anticancer drugs that progressed, were
stopped for intolerance or were completed, in the metastatic or the early setting:

- nothing the cancer grew on is offered again, alone or in a regimen; trastuzumab aside, inside
  a regimen that a sentence continues ("Pertuzumab (Perjeta) with chemo and trastuzumab",
  tucatinib "with trastuzumab");
- systemic drugs rank above surgery and radiation where no complication ties the sources to local
  treatment (ACS: "Although systemic drugs are the main treatment for stage IV breast cancer,
  local and regional treatments ... are sometimes used as well");
- hormone receptor positive: hormone therapy ranks above chemotherapy while a hormone drug it
  offers is untried, unless there are serious problems from the spread (YSC: "First-line
  therapy is endocrine (hormonal) therapy, which will be used as long as possible.
  Chemotherapy is typically used only when endocrine therapy fails."; ACS: "chemo is often the
  first treatment for patients with serious problems from their cancer spread");
- HER2 positive: every anticancer option includes an anti-HER2 drug or says why not, and
  anti-HER2 treatment leads (YSC: "All therapies will involve the use of anti-HER2 treatment.").
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Evaluation, Rulebase

HORMONE_DRUGS = [
    "tamoxifen",
    "toremifene",
    "fulvestrant",
    "elacestrant",
    "letrozole",
    "anastrozole",
    "exemestane",
    "megestrol_acetate",
]
TARGETED = [
    "palbociclib",
    "ribociclib",
    "abemaciclib",
    "everolimus",
    "alpelisib",
    "olaparib",
    "talazoparib",
    "sacituzumab_govitecan",
    "bevacizumab",
]
ANTI_HER2 = [
    "trastuzumab",
    "pertuzumab",
    "lapatinib",
    "tucatinib",
    "neratinib",
    "margetuximab",
    "ado_trastuzumab_emtansine",
    "fam_trastuzumab_deruxtecan",
]
CHEMOTHERAPY = ["capecitabine", "albumin_bound_paclitaxel", "carboplatin", "cisplatin"]
IMMUNOTHERAPY = ["pembrolizumab", "atezolizumab"]
SYSTEMIC = ("hormone_therapy", "targeted_therapy", "immunotherapy", "chemotherapy")
LOCAL = ("surgery", "radiation_therapy")

SUBTYPES = {
    "hr_positive_her2_negative": {"er_status": "positive", "her2_status": "negative"},
    "her2_positive": {"her2_status": "positive"},
    "triple_negative": {
        "er_status": "negative",
        "pr_status": "negative",
        "her2_status": "negative",
    },
}
DRUGS_OF = {
    "hr_positive_her2_negative": HORMONE_DRUGS + TARGETED + CHEMOTHERAPY,
    "her2_positive": ANTI_HER2 + HORMONE_DRUGS[:6] + CHEMOTHERAPY,
    "triple_negative": CHEMOTHERAPY + IMMUNOTHERAPY + ["sacituzumab_govitecan", "olaparib"],
}


@st.composite
def with_history(
    draw: st.DrawFn, subtype: str, complications: list[str] | None = None
) -> dict[str, Any]:
    """A woman of the subtype, with known markers and a history of up to six drugs."""
    profile: dict[str, Any] = {
        "sex": "female",
        "er_status": draw(st.sampled_from(["positive", "negative"])),
        "pr_status": draw(st.sampled_from(["positive", "negative"])),
        **SUBTYPES[subtype],
        "brca_status": draw(st.sampled_from(["positive", "negative"])),
        "pik3ca_status": draw(st.sampled_from(["positive", "negative"])),
        "pdl1_status": draw(st.sampled_from(["positive", "negative"])),
        "menopausal_status": draw(st.sampled_from(["premenopausal", "postmenopausal"])),
        "metastatic_sites": draw(
            st.lists(st.sampled_from(["bone", "liver", "lung", "soft_tissue"]), unique=True)
        ),
        "complications": complications
        if complications is not None
        else draw(
            st.lists(st.sampled_from(["bone_pain", "symptomatic", "rapid_growth"]), unique=True)
        ),
        "prior_therapies": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "agent": st.sampled_from(DRUGS_OF[subtype]),
                        "outcome": st.sampled_from(["progressed", "intolerant", "completed"]),
                        "setting": st.sampled_from(["metastatic", "metastatic", "early"]),
                    }
                ),
                unique_by=lambda t: t["agent"],
                max_size=6,
            )
        ),
    }
    sites = profile["metastatic_sites"]
    profile["resectable_sites"] = (
        draw(st.lists(st.sampled_from(sites), unique=True)) if sites else []
    )
    return profile


ANY_SUBTYPE = st.sampled_from(sorted(SUBTYPES)).flatmap(with_history)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def progressed(profile: dict[str, Any]) -> set[str]:
    return {t["agent"] for t in profile["prior_therapies"] if t["outcome"] == "progressed"}


def rank(result: Evaluation, category: str) -> int | None:
    option = result.option(category)
    return None if option is None else option.rank


@FAST
@given(profile=ANY_SUBTYPE)
def test_nothing_the_cancer_grew_on_is_offered_again(
    bundled: Rulebase, profile: dict[str, Any]
) -> None:
    grew_on = progressed(profile)
    result = bundled.evaluate(profile)
    for option in result.options:
        again = grew_on & set(option.agents)
        assert not again, f"{option.category} offers {sorted(again)} again"
        for regimen in option.regimens:
            again = grew_on & set(regimen.agents) - {"trastuzumab"}
            assert not again, f"{regimen.name} offers {sorted(again)} again"
    refused = {a for item in result.not_recommended for a in item.agents}
    assert grew_on <= refused, f"not named under not_recommended: {sorted(grew_on - refused)}"


@FAST
@given(profile=ANY_SUBTYPE.map(lambda p: {**p, "complications": []}))
def test_systemic_drugs_rank_above_surgery_and_radiation(
    bundled: Rulebase, profile: dict[str, Any]
) -> None:
    result = bundled.evaluate(profile)
    systemic = [o.rank for o in result.options if o.category in SYSTEMIC]
    for category in LOCAL:
        local = rank(result, category)
        if local is not None and systemic:
            assert min(systemic) < local, (category, [(o.rank, o.category) for o in result.options])


@FAST
@given(profile=with_history("hr_positive_her2_negative"))
def test_hormone_therapy_above_chemotherapy_while_a_hormone_drug_is_untried(
    bundled: Rulebase, profile: dict[str, Any]
) -> None:
    result = bundled.evaluate(profile)
    hormone = result.option("hormone_therapy")
    chemotherapy = result.option("chemotherapy")
    if hormone is None or chemotherapy is None:
        return
    offered = set(hormone.agents) | {a for r in hormone.regimens for a in r.agents}
    untried = offered & set(HORMONE_DRUGS) - progressed(profile)
    if untried:
        assert hormone.rank < chemotherapy.rank, (sorted(untried), hormone.rank, chemotherapy.rank)


@FAST
@given(profile=with_history("hr_positive_her2_negative", complications=["visceral_crisis"]))
def test_serious_problems_from_the_spread_put_chemotherapy_first(
    bundled: Rulebase, profile: dict[str, Any]
) -> None:
    result = bundled.evaluate(profile)
    assert result.options, "nothing offered"
    assert result.options[0].category == "chemotherapy", [o.category for o in result.options]


@FAST
@given(profile=with_history("her2_positive"))
def test_her2_positive_every_anticancer_option_includes_anti_her2_treatment(
    bundled: Rulebase, profile: dict[str, Any]
) -> None:
    result = bundled.evaluate(profile)
    leading = []
    for option in result.options:
        if option.category not in SYSTEMIC:
            continue
        named = set(option.agents) | {a for r in option.regimens for a in r.agents}
        has_anti_her2 = bool(named & {*ANTI_HER2, "anti_her2_therapy"})
        says_why = any("her2" in note.topic for note in getattr(option, "notes", ()))
        assert has_anti_her2 or says_why, (option.category, sorted(named))
        if has_anti_her2:
            leading.append(option.rank)
    if leading:
        assert result.options[0].rank == min(leading), [o.category for o in result.options]


@FAST
@given(profile=ANY_SUBTYPE)
def test_a_drug_stopped_for_intolerance_is_not_presented_as_new(
    bundled: Rulebase, profile: dict[str, Any]
) -> None:
    intolerant = {t["agent"] for t in profile["prior_therapies"] if t["outcome"] == "intolerant"}
    result = bundled.evaluate(profile)
    for option in result.options:
        named = set(option.agents) | {a for r in option.regimens for a in r.agents}
        given_before = {
            g.agent for g in getattr(option, "given_before", ()) if g.outcome == "intolerant"
        }
        missing = (named & intolerant) - given_before
        assert not missing, f"{option.category} offers {sorted(missing)} as if new"


def test_every_drug_a_rule_offers_is_named_by_a_sentence_it_cites(bundled: Rulebase) -> None:
    """No option without its sentence: each drug of an offer, by name, brand or class, stands in
    one of the rule's cited statements or the heading they sit under."""
    vocabulary = bundled.vocabulary
    unnamed = []
    for rule in bundled.rules:
        offer = rule.then.offer
        if offer is None:
            continue
        text = " ".join(f"{c.section} {c.excerpt}" for c in rule.citations).casefold()
        agents = [*offer.agents, *(a for regimen in offer.regimens for a in regimen.agents)]
        for agent_id in dict.fromkeys(agents):
            agent = vocabulary[agent_id]
            if agent.kind != "drug":
                continue
            names = {agent.id.replace("_", " "), agent.name, *agent.brands, *agent.aliases}
            for drug_class in agent.classes:  # its class, or a class it lies within
                names.update({drug_class.replace("_", " "), vocabulary.class_name(drug_class)})
            if not any(name.casefold() in text for name in names):
                unnamed.append(f"{rule.id}: {agent_id}")
    assert unnamed == []


NOT_ANTICANCER = ["yoga", "massage", "meditation", "acupuncture", "palliative_care"]


@FAST
@given(
    profile=ANY_SUBTYPE,
    extra=st.lists(
        st.fixed_dictionaries(
            {
                "agent": st.sampled_from(NOT_ANTICANCER),
                "outcome": st.sampled_from(["progressed", "completed", "intolerant", "ongoing"]),
            }
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda t: t["agent"],
    ),
)
def test_only_anticancer_treatments_count_as_lines_or_failures(
    bundled: Rulebase, profile: dict[str, Any], extra: list[dict[str, Any]]
) -> None:
    """Yoga, massage or palliative care in a history change nothing (issue 10, item 1)."""

    def answer(p: dict[str, Any]) -> list[tuple[Any, ...]]:
        result = bundled.evaluate(p)
        return [
            (o.rank, o.category, o.tier, tuple(sorted(o.agents)), tuple(r.name for r in o.regimens))
            for o in result.options
        ]

    with_extra = {**profile, "prior_therapies": [*profile["prior_therapies"], *extra]}
    assert answer(with_extra) == answer(profile)

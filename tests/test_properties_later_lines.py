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
@given(profile=with_history("hr_positive_her2_negative", complications=["visceral_crisis"]))
def test_serious_problems_from_the_spread_put_chemotherapy_first(
    bundled: Rulebase, profile: dict[str, Any]
) -> None:
    result = bundled.evaluate(profile)
    assert result.options, "nothing offered"
    assert result.options[0].category == "chemotherapy", [o.category for o in result.options]


NOT_ANTICANCER = ["yoga", "massage", "meditation", "acupuncture", "palliative_care"]

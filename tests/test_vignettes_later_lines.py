"""Clinical vignettes of later lines: what the sources say once a treatment has stopped working.

Each vignette is a patient after one, two or three failures, a recurrence on adjuvant therapy,
an intolerance, or a run through every hormone option. It asserts what must be offered and
what must not (presence AND absence), with the sentences it rests on quoted above it. A drug
the cancer grew on is never offered again, alone or in a regimen, except trastuzumab where a
sentence continues it ("Pertuzumab (Perjeta) with chemo and trastuzumab"; tucatinib "with
trastuzumab").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from mbc_rules import Evaluation, Rulebase

HR_POS_HER2_NEG = {"er_status": "positive", "pr_status": "positive", "her2_status": "negative"}
HER2_POS_HR_NEG = {"er_status": "negative", "pr_status": "negative", "her2_status": "positive"}
HER2_POS_HR_POS = {"er_status": "positive", "pr_status": "positive", "her2_status": "positive"}
TNBC = {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
POST = {"sex": "female", "menopausal_status": "postmenopausal"}
PRE = {"sex": "female", "menopausal_status": "premenopausal"}

HORMONE_DRUGS = (
    "tamoxifen",
    "toremifene",
    "fulvestrant",
    "elacestrant",
    "letrozole",
    "anastrozole",
    "exemestane",
    "megestrol_acetate",
    "estrogen_therapy",
    "androgen_therapy",
)
ANTI_HER2 = frozenset(
    {
        "trastuzumab",
        "pertuzumab",
        "margetuximab",
        "lapatinib",
        "neratinib",
        "tucatinib",
        "ado_trastuzumab_emtansine",
        "fam_trastuzumab_deruxtecan",
        "anti_her2_therapy",
    }
)
SYSTEMIC = ("hormone_therapy", "targeted_therapy", "immunotherapy", "chemotherapy")
LOCAL = ("surgery", "radiation_therapy")


def history(
    *lines: tuple[str, ...], outcome: str = "progressed", setting: str = "metastatic"
) -> list[dict[str, Any]]:
    """Lines of treatment, in order; the drugs of one line were given together."""
    return [
        {"agent": agent, "outcome": outcome, "setting": setting, "line": number}
        if setting == "metastatic"
        else {"agent": agent, "outcome": outcome, "setting": setting}
        for number, line in enumerate(lines, 1)
        for agent in line
    ]


def offered_agents(result: Evaluation) -> set[str]:
    names: set[str] = set()
    for option in result.options:
        names.update(option.agents)
        names.update(a for regimen in option.regimens for a in regimen.agents)
    return names


def alone_in(rulebase: Rulebase, result: Evaluation, agent: str) -> list[str]:
    """The categories offering the agent on its own: a rule of the option names it as a single
    agent (an option's agents also list the members of its regimens)."""
    return [
        option.category
        for option in result.options
        if agent in option.agents
        and any(
            (offer := rulebase.rule(rule_id).then.offer) is not None and agent in offer.agents
            for rule_id in option.rule_ids
        )
    ]


def alone_or_in_regimens(rulebase: Rulebase, result: Evaluation, agent: str) -> list[str]:
    """Where an agent is offered: alone, or the regimens' names."""
    places = [f"{category}: alone" for category in alone_in(rulebase, result, agent)]
    for option in result.options:
        places += [f"{option.category}: {r.name}" for r in option.regimens if agent in r.agents]
    return places or [f"{o.category}: listed" for o in result.options if agent in o.agents]


def rank_of(result: Evaluation, category: str) -> int | None:
    option = result.option(category)
    return None if option is None else option.rank


@dataclass(frozen=True)
class LaterLine:
    name: str
    profile: dict[str, Any]
    drugs: tuple[str, ...] = ()  # offered, alone or in a regimen
    no_drugs: tuple[str, ...] = ()  # not offered anywhere
    not_alone: tuple[str, ...] = ()  # only inside a regimen that continues it
    refused: tuple[str, ...] = ()  # named under not_recommended
    offered: tuple[str, ...] = ()  # categories
    not_offered: tuple[str, ...] = ()
    first: str | None = None
    above: tuple[tuple[str, str], ...] = ()  # (higher, lower), both offered
    regimens: tuple[frozenset[str], ...] = ()  # regimens that must be offered
    advice: tuple[str, ...] = ()  # advice topics
    check: Callable[[Evaluation], None] | None = field(default=None, compare=False)


def every_anticancer_option_has_anti_her2(result: Evaluation) -> None:
    # YSC, HER2+ Disease: "All therapies will involve the use of anti-HER2 treatment." An option
    # without an anti-HER2 drug says why (a note on anti-HER2 treatment).
    for option in result.options:
        if option.category not in SYSTEMIC:
            continue
        named = set(option.agents) | {a for r in option.regimens for a in r.agents}
        says_why = any("her2" in note.topic for note in getattr(option, "notes", ()))
        assert named & ANTI_HER2 or says_why, (
            f"{option.category} offers no anti-HER2 drug and says nothing: {sorted(named)}"
        )


def bevacizumab_only_with_chemotherapy(result: Evaluation) -> None:
    # WebMD, Targeted Therapy: "Your doctor may suggest you take any of the targeted therapy
    # drugs now approved by the FDA for metastatic breast cancer along with chemotherapy."
    # Bevacizumab is named nowhere else: it stands only with chemotherapy, and only where
    # chemotherapy is offered.
    with_chemo = [
        r
        for o in result.options
        for r in o.regimens
        if "bevacizumab" in r.agents and "chemotherapy" in r.agents
    ]
    if with_chemo:
        assert result.option("chemotherapy") is not None, (
            "bevacizumab with chemotherapy, none offered"
        )


def alpelisib_supported_by_acs_without_a_condition(result: Evaluation) -> None:
    # ACS offers alpelisib "along with fulvestrant" to postmenopausal women with PIK3CA-mutated
    # cancer without a condition on the history, and names it again after growth on an
    # aromatase inhibitor. A source that supports the option never also stands as naming it
    # "only when" (issue 19): ACS supports it here, and is not listed as waiting.
    for option in result.options:
        named = set(option.agents) | {a for r in option.regimens for a in r.agents}
        if "alpelisib" in named:
            agreement = getattr(option, "agreement", None)
            assert agreement is not None, "no agreement on the option"
            assert "acs" in agreement.supporting, agreement
            waiting = {c.source for c in agreement.conditions_not_met if "alpelisib" in c.agents}
            assert "acs" not in waiting, agreement
            assert waiting.isdisjoint(agreement.supporting), agreement


def liver_surgery_waits_on_operability(result: Evaluation) -> None:
    # YSC Liver Mets: "The goal is to remove liver metastases if possible through surgery,
    # radiofrequency ablation or cryosurgery." Operability not known: "if possible" is a
    # condition, and unknown is never read as met.
    surgery = result.option("surgery")
    assert surgery is None or surgery.tier == "situational", surgery and surgery.tier


def kadcyla_is_not_new(result: Evaluation) -> None:
    # A drug stopped for intolerance is not presented as new: the option says so (issue 10).
    for option in result.options:
        if "ado_trastuzumab_emtansine" in option.agents:
            given = {(g.agent, g.outcome) for g in getattr(option, "given_before", ())}
            assert ("ado_trastuzumab_emtansine", "intolerant") in given, option.category


VIGNETTES = [
    # --- hormone receptor positive, HER2 negative --------------------------------------------
    # ACS, Progression while being treated with hormone therapy: "if either letrozole (Femara)
    # or anastrozole (Arimidex) were given, using exemestane, possibly with everolimus
    # (Afinitor), may be an option. Another option might be using fulvestrant (Faslodex) or an
    # aromatase inhibitor (such as letrozole), along with a CDK inhibitor."
    # YSC: "If one course of therapy stops working, your doctor will use another one."
    LaterLine(
        "hr-positive postmenopausal after one aromatase inhibitor",
        {**HR_POS_HER2_NEG, **POST, "prior_therapies": history(("letrozole",))},
        drugs=("exemestane", "everolimus", "fulvestrant"),
        no_drugs=("letrozole",),
        refused=("letrozole",),
        offered=("hormone_therapy", "targeted_therapy"),
        regimens=(frozenset({"exemestane", "everolimus"}),),
    ),
    # ACS (as above) and YSC ER/PR+: "First-line therapy is endocrine (hormonal) therapy,
    # which will be used as long as possible. Chemotherapy is typically used only when
    # endocrine therapy fails." After two lines, exemestane (with everolimus) is still untried.
    LaterLine(
        "hr-positive postmenopausal after two hormone lines",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "prior_therapies": history(("letrozole",), ("fulvestrant", "palbociclib")),
        },
        drugs=("exemestane", "everolimus"),
        no_drugs=("letrozole", "fulvestrant", "palbociclib"),
        refused=("letrozole", "fulvestrant", "palbociclib"),
        offered=("hormone_therapy",),
        above=(("hormone_therapy", "chemotherapy"),),
    ),
    # PDQ: after tamoxifen, with spread to bone or soft tissue only, "Other hormone therapy
    # such as megestrol acetate, estrogen or androgen therapy, or anti-estrogen therapy such as
    # fulvestrant or elacestrant." Three lines failed; tamoxifen, letrozole and exemestane are
    # not offered again.
    LaterLine(
        "hr-positive postmenopausal after three hormone lines, bone only",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "metastatic_sites": ["bone"],
            "prior_therapies": history(
                ("tamoxifen",), ("letrozole",), ("exemestane", "everolimus")
            ),
        },
        drugs=("megestrol_acetate", "fulvestrant"),
        no_drugs=("tamoxifen", "letrozole", "exemestane", "everolimus"),
        refused=("tamoxifen", "letrozole", "exemestane", "everolimus"),
        offered=("hormone_therapy",),
        above=(("hormone_therapy", "chemotherapy"),),
    ),
    # ACS: "If the cancer is no longer responding to any hormone drugs, chemotherapy is
    # usually the next step." Every hormone drug the sources name has failed.
    LaterLine(
        "hr-positive postmenopausal after every hormone option",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "metastatic_sites": ["bone"],
            "prior_therapies": history(*[(d,) for d in HORMONE_DRUGS]),
        },
        no_drugs=HORMONE_DRUGS,
        refused=HORMONE_DRUGS,
        offered=("chemotherapy",),
        not_offered=("hormone_therapy",),
        above=(("chemotherapy", "surgery"), ("chemotherapy", "radiation_therapy")),
    ),
    # ACS: "If the cancer has a PIK3CA mutation and has grown while on an aromatase inhibitor,
    # fulvestrant with alpelisib might be considered." A recurrence during adjuvant letrozole is
    # growth on it (issue 10): letrozole is not offered again.
    LaterLine(
        "hr-positive PIK3CA recurrence during adjuvant aromatase inhibitor",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "pik3ca_status": "positive",
            "prior_therapies": history(("letrozole",), setting="early"),
        },
        regimens=(frozenset({"alpelisib", "fulvestrant"}),),
        no_drugs=("letrozole",),
        refused=("letrozole",),
    ),
    # A recurrence during adjuvant tamoxifen: tamoxifen is not offered again (growth on it).
    # ACS: premenopausal women "are often treated with tamoxifen or with medicines that keep the
    # ovaries from making hormones along with other drugs."
    LaterLine(
        "hr-positive premenopausal recurrence during adjuvant tamoxifen",
        {**HR_POS_HER2_NEG, **PRE, "prior_therapies": history(("tamoxifen",), setting="early")},
        no_drugs=("tamoxifen", "letrozole", "anastrozole", "exemestane", "toremifene"),
        refused=("tamoxifen",),
        offered=("hormone_therapy",),
        drugs=("ovarian_suppression",),
    ),
    # WebMD, Fulvestrant: "Doctors often suggest it if you've tried other hormone therapies,
    # such as tamoxifen, but they aren't working anymore." ... "doctors sometimes prescribe it
    # for premenopausal women, too." Aromatase inhibitors: "Doctors prescribe them if you're
    # finished with menopause."
    LaterLine(
        "hr-positive premenopausal after tamoxifen",
        {**HR_POS_HER2_NEG, **PRE, "prior_therapies": history(("tamoxifen",))},
        drugs=("fulvestrant",),
        no_drugs=("tamoxifen", "letrozole", "anastrozole", "exemestane", "toremifene"),
        refused=("tamoxifen",),
        offered=("hormone_therapy",),
    ),
    # ACS: "Another option might be using fulvestrant (Faslodex) or an aromatase inhibitor
    # (such as letrozole), along with a CDK inhibitor." Fulvestrant itself failed first.
    LaterLine(
        "hr-positive postmenopausal after first-line fulvestrant",
        {**HR_POS_HER2_NEG, **POST, "prior_therapies": history(("fulvestrant",))},
        drugs=("letrozole", "palbociclib"),
        no_drugs=("fulvestrant",),
        refused=("fulvestrant",),
        offered=("hormone_therapy", "targeted_therapy"),
        above=(("hormone_therapy", "chemotherapy"),),
    ),
    # Two CDK lines: palbociclib with letrozole, then abemaciclib with fulvestrant. ACS: "using
    # exemestane, possibly with everolimus (Afinitor), may be an option."
    LaterLine(
        "hr-positive postmenopausal after two CDK inhibitor lines",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "prior_therapies": history(
                ("palbociclib", "letrozole"), ("abemaciclib", "fulvestrant")
            ),
        },
        regimens=(frozenset({"exemestane", "everolimus"}),),
        no_drugs=("palbociclib", "letrozole", "abemaciclib", "fulvestrant"),
        refused=("palbociclib", "letrozole", "abemaciclib", "fulvestrant"),
        above=(("hormone_therapy", "chemotherapy"),),
    ),
    # ACS: "If the cancer has a PIK3CA mutation and has grown while on an aromatase inhibitor,
    # fulvestrant with alpelisib might be considered." (growth on letrozole with ribociclib)
    LaterLine(
        "hr-positive PIK3CA after aromatase inhibitor with a CDK inhibitor",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "pik3ca_status": "positive",
            "prior_therapies": history(("letrozole", "ribociclib")),
        },
        regimens=(frozenset({"alpelisib", "fulvestrant"}),),
        no_drugs=("letrozole", "ribociclib"),
        refused=("letrozole", "ribociclib"),
    ),
    # Intolerance is not growth: letrozole stopped for side effects is not refused as failed,
    # and the first-line hormone therapy still leads (ACS: "often treated first with hormone
    # therapy").
    LaterLine(
        "hr-positive postmenopausal intolerant of letrozole",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "prior_therapies": history(("letrozole",), outcome="intolerant"),
        },
        drugs=("anastrozole", "exemestane"),
        first="hormone_therapy",
        not_offered=("chemotherapy",),
    ),
    # Yoga and palliative care are not anticancer treatments: they are no failed line
    # (issue 10), so the first-line answer stands. ACS: "often treated first with hormone
    # therapy (tamoxifen or an aromatase inhibitor)".
    LaterLine(
        "hr-positive postmenopausal with yoga and palliative care in the history",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "prior_therapies": [
                {"agent": "yoga", "outcome": "completed"},
                {"agent": "palliative_care", "outcome": "ongoing"},
            ],
        },
        drugs=("letrozole", "anastrozole", "exemestane"),
        first="hormone_therapy",
        not_offered=("chemotherapy",),
    ),
    # ACS: "chemo is often the first treatment for patients with serious problems from their
    # cancer spread, such as breathing problems." Even after one hormone line.
    LaterLine(
        "hr-positive visceral crisis after one aromatase inhibitor",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "metastatic_sites": ["liver", "lung"],
            "complications": ["visceral_crisis"],
            "prior_therapies": history(("anastrozole",)),
        },
        first="chemotherapy",
        no_drugs=("anastrozole",),
        refused=("anastrozole",),
    ),
    # ACS, Local or regional treatments: "Although systemic drugs are the main treatment for
    # stage IV breast cancer, local and regional treatments such as surgery, radiation therapy,
    # or regional chemotherapy are sometimes used as well." YSC Liver Mets: "The goal is to
    # remove liver metastases if possible through surgery".
    LaterLine(
        "hr-positive resectable liver spread after one aromatase inhibitor",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "metastatic_sites": ["liver"],
            "resectable_sites": ["liver"],
            "prior_therapies": history(("letrozole",)),
        },
        offered=("hormone_therapy", "surgery"),
        above=(("hormone_therapy", "surgery"),),
        no_drugs=("letrozole",),
    ),
    # WebMD, Bevacizumab is among the targeted drugs you may take "along with chemotherapy":
    # no chemotherapy, no bevacizumab. After one AI, hormone therapy still comes first.
    LaterLine(
        "hr-positive after one aromatase inhibitor: no bevacizumab without chemotherapy",
        {**HR_POS_HER2_NEG, **POST, "prior_therapies": history(("anastrozole",))},
        drugs=("fulvestrant",),
        no_drugs=("anastrozole",),
        not_alone=("bevacizumab",),
        above=(("hormone_therapy", "chemotherapy"),),
        check=bevacizumab_only_with_chemotherapy,
    ),
    # ACS HR+ CDK: palbociclib with letrozole progressed: neither is offered again.
    # YSC: "If one course of therapy stops working, your doctor will use another one."
    LaterLine(
        "hr-positive after palbociclib with letrozole",
        {**HR_POS_HER2_NEG, **POST, "prior_therapies": history(("palbociclib", "letrozole"))},
        drugs=("exemestane", "fulvestrant"),
        no_drugs=("palbociclib", "letrozole"),
        refused=("palbociclib", "letrozole"),
    ),
    # --- HER2 positive -----------------------------------------------------------------------
    # ACS, Progression while being treated with HER2 drugs: "HER2-positive cancers that no
    # longer respond to trastuzumab (Herceptin) might respond to lapatinib (Tykerb) ... Other
    # options ... Pertuzumab (Perjeta) with chemo and trastuzumab; Ado-trastuzumab emtansine
    # (Kadcyla); Fam-trastuzumab deruxtecan (Enhertu)". WebMD, Tucatinib: "after your doctor
    # has tried at least one other HER2 targeted drug ... often given with trastuzumab and the
    # chemo drug capecitabine." WebMD, Margetuximab: "if they've tried at least two other
    # HER2-targeted drugs" - not yet.
    LaterLine(
        "her2-positive after one HER2 drug (trastuzumab)",
        {**HER2_POS_HR_NEG, **POST, "prior_therapies": history(("trastuzumab",))},
        drugs=("lapatinib", "ado_trastuzumab_emtansine", "fam_trastuzumab_deruxtecan", "tucatinib"),
        no_drugs=("margetuximab",),
        not_alone=("trastuzumab",),
        refused=("trastuzumab",),
        regimens=(frozenset({"tucatinib", "trastuzumab", "capecitabine"}),),
        first="targeted_therapy",
        check=every_anticancer_option_has_anti_her2,
    ),
    # First line trastuzumab, pertuzumab and chemotherapy progressed. ACS names Kadcyla and
    # Enhertu for HER2-positive cancers that progress on HER2 drugs; pertuzumab is not offered
    # again.
    LaterLine(
        "her2-positive after trastuzumab, pertuzumab and chemotherapy",
        {
            **HER2_POS_HR_NEG,
            **POST,
            "prior_therapies": history(("trastuzumab", "pertuzumab", "albumin_bound_paclitaxel")),
        },
        drugs=("ado_trastuzumab_emtansine", "fam_trastuzumab_deruxtecan", "margetuximab"),
        no_drugs=("pertuzumab", "albumin_bound_paclitaxel"),
        not_alone=("trastuzumab",),
        refused=("pertuzumab", "trastuzumab", "albumin_bound_paclitaxel"),
        first="targeted_therapy",
        check=every_anticancer_option_has_anti_her2,
    ),
    # After trastuzumab and then Kadcyla: WebMD, Margetuximab: "at least two other
    # HER2-targeted drugs ... along with chemotherapy"; Neratinib: "with the chemo drug
    # capecitabine, usually after at least two other HER2-targeted drugs". Kadcyla is not
    # offered again.
    LaterLine(
        "her2-positive after two HER2 drugs",
        {
            **HER2_POS_HR_NEG,
            **POST,
            "prior_therapies": history(("trastuzumab",), ("ado_trastuzumab_emtansine",)),
        },
        drugs=("margetuximab", "neratinib", "tucatinib", "fam_trastuzumab_deruxtecan"),
        no_drugs=("ado_trastuzumab_emtansine",),
        not_alone=("trastuzumab",),
        refused=("ado_trastuzumab_emtansine", "trastuzumab"),
        first="targeted_therapy",
        check=every_anticancer_option_has_anti_her2,
    ),
    # After trastuzumab with pertuzumab, Kadcyla, then tucatinib with (trastuzumab and)
    # capecitabine: ACS still names Enhertu; WebMD margetuximab after two. Capecitabine failed
    # too: no regimen with it (lapatinib "often given along with the chemo drug capecitabine").
    LaterLine(
        "her2-positive after three HER2 lines",
        {
            **HER2_POS_HR_NEG,
            **POST,
            "prior_therapies": history(
                ("trastuzumab", "pertuzumab"),
                ("ado_trastuzumab_emtansine",),
                ("tucatinib", "capecitabine"),  # with trastuzumab again (listed once)
            ),
        },
        drugs=("fam_trastuzumab_deruxtecan", "margetuximab"),
        no_drugs=("pertuzumab", "ado_trastuzumab_emtansine", "tucatinib", "capecitabine"),
        refused=("pertuzumab", "ado_trastuzumab_emtansine", "tucatinib", "capecitabine"),
        first="targeted_therapy",
        check=every_anticancer_option_has_anti_her2,
    ),
    # ACS: "For HER2-positive cancers that have spread to the brain, the combination of
    # neratinib and capecitabine has also been shown to be effective." - under "Progression
    # while being treated with HER2 drugs": not before any HER2 drug.
    LaterLine(
        "her2-positive brain spread before any HER2 drug",
        {**HER2_POS_HR_NEG, **POST, "metastatic_sites": ["brain"], "prior_therapies": []},
        drugs=("trastuzumab", "pertuzumab"),
        # PDQ names margetuximab and tucatinib for HER2-positive disease with no time: offered
        # for some patients only (test_vignettes); this vignette used to expect neither.
        no_drugs=("neratinib",),
        first="targeted_therapy",
    ),
    LaterLine(
        "her2-positive brain spread after trastuzumab",
        {
            **HER2_POS_HR_NEG,
            **POST,
            "metastatic_sites": ["brain"],
            "prior_therapies": history(("trastuzumab",)),
        },
        regimens=(frozenset({"neratinib", "capecitabine"}),),
        no_drugs=("margetuximab",),
        not_alone=("trastuzumab",),
    ),
    # Recurrence during adjuvant trastuzumab counts as growth on one HER2 drug: tucatinib
    # ("after ... at least one other HER2 targeted drug") and Kadcyla; trastuzumab only where
    # a sentence continues it.
    LaterLine(
        "her2-positive recurrence during adjuvant trastuzumab",
        {**HER2_POS_HR_NEG, **POST, "prior_therapies": history(("trastuzumab",), setting="early")},
        drugs=("tucatinib", "ado_trastuzumab_emtansine"),
        no_drugs=("margetuximab",),
        not_alone=("trastuzumab",),
        refused=("trastuzumab",),
        first="targeted_therapy",
    ),
    # YSC HER2+ Disease: "All therapies will involve the use of anti-HER2 treatment." HR+ too:
    # ACS trastuzumab "with other medications such as hormonal therapy", lapatinib "with ...
    # hormone therapy" - anti-HER2 treatment leads; no hormone option without it.
    LaterLine(
        "her2-positive hormone receptor positive after one HER2 drug",
        {**HER2_POS_HR_POS, **POST, "prior_therapies": history(("trastuzumab", "pertuzumab"))},
        drugs=("lapatinib", "ado_trastuzumab_emtansine"),
        no_drugs=("pertuzumab",),
        not_alone=("trastuzumab",),
        first="targeted_therapy",
        check=every_anticancer_option_has_anti_her2,
    ),
    # Kadcyla stopped for intolerance is not a failure, but it was tried: WebMD margetuximab
    # "if they've tried at least two other HER2-targeted drugs". ACS names lapatinib after
    # trastuzumab stopped working. Kadcyla, if offered again, says it was not tolerated.
    LaterLine(
        "her2-positive after trastuzumab failed and Kadcyla not tolerated",
        {
            **HER2_POS_HR_NEG,
            **POST,
            "prior_therapies": [
                {"agent": "trastuzumab", "outcome": "progressed", "line": 1},
                {"agent": "ado_trastuzumab_emtansine", "outcome": "intolerant", "line": 2},
            ],
        },
        drugs=("lapatinib", "tucatinib", "margetuximab"),
        not_alone=("trastuzumab",),
        refused=("trastuzumab",),
        first="targeted_therapy",
        check=kadcyla_is_not_new,
    ),
    # PDQ: postmenopausal women "who have just been diagnosed ... Sometimes cyclin-dependent
    # kinase inhibitor therapy (palbociclib, ribociclib, abemaciclib, or alpelisib) is also
    # given." ACS: "If the cancer has a PIK3CA mutation and has grown while on an aromatase
    # inhibitor, fulvestrant with alpelisib might be considered." ACS's own first-line sentence
    # supports it, so ACS is not shown as waiting on a condition.
    LaterLine(
        "hr-positive PIK3CA just diagnosed: alpelisib supported by ACS, no condition shown",
        {**HR_POS_HER2_NEG, **POST, "pik3ca_status": "positive", "prior_therapies": []},
        drugs=("alpelisib", "letrozole"),
        not_alone=("alpelisib",),  # "fulvestrant with alpelisib"; "also given" with hormone therapy
        first="hormone_therapy",
        check=alpelisib_supported_by_acs_without_a_condition,
    ),
    # YSC, Treatment Factors: "If possible, your metastases will be biopsied to determine their
    # characteristics." Advice for everyone, not only where a status is unknown.
    LaterLine(
        "hr-positive after one aromatase inhibitor: biopsy advice stands",
        {**HR_POS_HER2_NEG, **POST, "prior_therapies": history(("letrozole",))},
        advice=("biopsy_metastasis",),
        offered=("hormone_therapy",),
        no_drugs=("letrozole",),
    ),
    # Hormone receptor status unknown, premenopausal: no source covers hormone therapy (PDQ
    # covers unknown status only after menopause), and bevacizumab is named only "along with
    # chemotherapy": nothing anticancer is offered alone; the advice is to biopsy.
    LaterLine(
        "hormone receptor unknown premenopausal: no bevacizumab alone",
        {
            "er_status": "unknown",
            "pr_status": "unknown",
            "her2_status": "negative",
            **PRE,
            "prior_therapies": [],
        },
        advice=("biopsy_metastasis",),
        not_alone=("bevacizumab",),
        not_offered=("hormone_therapy",),
        check=bevacizumab_only_with_chemotherapy,
    ),
    # Liver spread, operability not given: surgery waits on "if possible".
    LaterLine(
        "hr-positive liver spread after one aromatase inhibitor, operability unknown",
        {
            **HR_POS_HER2_NEG,
            **POST,
            "metastatic_sites": ["liver"],
            "prior_therapies": history(("anastrozole",)),
        },
        offered=("hormone_therapy",),
        no_drugs=("anastrozole",),
        check=liver_surgery_waits_on_operability,
    ),
    # --- triple negative ---------------------------------------------------------------------
    # ACS, Progression while being treated with chemotherapy: "If the cancer is no longer
    # responding to one chemo regimen, trying another may be helpful." YSC Triple Negative:
    # "Typical treatments involve chemotherapy, with multiple single agents and combinations".
    LaterLine(
        "triple-negative after one chemotherapy",
        {**TNBC, **POST, "prior_therapies": history(("capecitabine",))},
        offered=("chemotherapy",),
        no_drugs=("capecitabine", "olaparib", "talazoparib", "hormone_therapy"),
        refused=("capecitabine",),
        not_offered=("hormone_therapy",),
    ),
    # WebMD, Sacituzumab: "This drug can be used to treat triple negative breast cancer after
    # other chemotherapies have been tried." Two failed: neither is offered again.
    LaterLine(
        "triple-negative after two chemotherapies",
        {
            **TNBC,
            **POST,
            "prior_therapies": history(("capecitabine",), ("albumin_bound_paclitaxel",)),
        },
        drugs=("sacituzumab_govitecan",),
        offered=("chemotherapy",),
        no_drugs=("capecitabine", "albumin_bound_paclitaxel"),
        refused=("capecitabine", "albumin_bound_paclitaxel"),
        not_offered=("hormone_therapy",),
    ),
    # ACS TNBC: "For women with TNBC and a BRCA mutation whose cancer no longer responds to
    # common breast cancer chemo drugs, other chemo called platinum drugs (like cisplatin or
    # carboplatin) may be considered." ACS BRCA: "An option after getting chemo is treatment
    # with a targeted drug called a PARP inhibitor, such as olaparib or talazoparib."
    LaterLine(
        "triple-negative BRCA after three chemotherapies",
        {
            **TNBC,
            **POST,
            "brca_status": "positive",
            "prior_therapies": history(
                ("capecitabine",), ("albumin_bound_paclitaxel",), ("sacituzumab_govitecan",)
            ),
        },
        drugs=("cisplatin", "carboplatin", "olaparib", "talazoparib"),
        no_drugs=("capecitabine", "albumin_bound_paclitaxel", "sacituzumab_govitecan"),
        refused=("capecitabine", "albumin_bound_paclitaxel", "sacituzumab_govitecan"),
    ),
    # ACS, HER2-negative cancers in women with a BRCA gene mutation: "An option after getting
    # chemo is treatment with a targeted drug called a PARP inhibitor, such as olaparib or
    # talazoparib." PDQ: "who have been treated with chemotherapy, treatment may include
    # targeted therapy with a PARP inhibitor (olaparib or talazoparib)."
    LaterLine(
        "triple-negative BRCA after one chemotherapy",
        {
            **TNBC,
            **POST,
            "brca_status": "positive",
            "prior_therapies": history(("capecitabine",)),
        },
        drugs=("olaparib", "talazoparib"),
        offered=("chemotherapy", "targeted_therapy"),
        no_drugs=("capecitabine",),
        refused=("capecitabine",),
    ),
    # Atezolizumab with Abraxane progressed: neither is offered again; another chemotherapy is
    # (ACS: "If the cancer is no longer responding to one chemo regimen, trying another may be
    # helpful.").
    LaterLine(
        "triple-negative PD-L1 after atezolizumab with albumin-bound paclitaxel",
        {
            **TNBC,
            **POST,
            "pdl1_status": "positive",
            "prior_therapies": history(("atezolizumab", "albumin_bound_paclitaxel")),
        },
        offered=("chemotherapy",),
        no_drugs=("atezolizumab", "albumin_bound_paclitaxel"),
        refused=("atezolizumab", "albumin_bound_paclitaxel"),
    ),
    # ACS TNBC: "Atezolizumab can be used along with Abraxane ... whose tumor makes the PD-L1
    # protein." Pembrolizumab progressed with chemotherapy: not offered again.
    LaterLine(
        "triple-negative PD-L1 after pembrolizumab with chemotherapy",
        {
            **TNBC,
            **POST,
            "pdl1_status": "positive",
            "prior_therapies": history(("pembrolizumab", "carboplatin")),
        },
        offered=("chemotherapy",),
        no_drugs=("pembrolizumab", "carboplatin"),
        refused=("pembrolizumab", "carboplatin"),
    ),
    # A recurrence during adjuvant capecitabine is growth on it; ACS: chemotherapy for
    # hormone receptor-negative disease ("Chemo is the main treatment").
    LaterLine(
        "triple-negative recurrence during adjuvant capecitabine",
        {**TNBC, **POST, "prior_therapies": history(("capecitabine",), setting="early")},
        offered=("chemotherapy",),
        no_drugs=("capecitabine",),
        refused=("capecitabine",),
        first="chemotherapy",
    ),
    # Nothing in a TNBC answer is a hormone drug, whatever has failed; chemotherapy leads over
    # local treatment for lung spread (ACS: "systemic drugs are the main treatment"), and MLH
    # names radiation for spread "to areas such as the brain, spine or lung".
    LaterLine(
        "triple-negative lung spread after one chemotherapy",
        {
            **TNBC,
            **POST,
            "metastatic_sites": ["lung"],
            "resectable_sites": ["lung"],
            "prior_therapies": history(("albumin_bound_paclitaxel",)),
        },
        offered=("chemotherapy", "radiation_therapy"),
        above=(("chemotherapy", "surgery"), ("chemotherapy", "radiation_therapy")),
        no_drugs=("albumin_bound_paclitaxel", "tamoxifen"),
    ),
]


def test_there_are_at_least_twenty_five_later_line_vignettes() -> None:
    assert len(VIGNETTES) >= 25
    assert len({v.name for v in VIGNETTES}) == len(VIGNETTES)


def test_every_vignette_asserts_a_presence_and_an_absence() -> None:
    for v in VIGNETTES:
        assert v.drugs or v.offered or v.first or v.regimens or v.advice, v.name
        assert v.no_drugs or v.not_offered or v.refused or v.not_alone, v.name


@pytest.mark.parametrize("vignette", VIGNETTES, ids=lambda v: v.name)
def test_later_line(rulebase: Rulebase, vignette: LaterLine) -> None:
    result = rulebase.evaluate(vignette.profile)
    categories = [o.category for o in result.options]
    agents = offered_agents(result)
    assert set(vignette.drugs) <= agents, f"missing {sorted(set(vignette.drugs) - agents)}"
    again = {a: alone_or_in_regimens(rulebase, result, a) for a in vignette.no_drugs if a in agents}
    assert again == {}, f"offered although it must not be: {again}"
    for agent in vignette.not_alone:
        alone = alone_in(rulebase, result, agent)
        assert alone == [], f"{agent} offered alone in {alone}"
    refused = {a for item in result.not_recommended for a in item.agents}
    assert set(vignette.refused) <= refused, (
        f"not refused: {sorted(set(vignette.refused) - refused)}"
    )
    for category in vignette.offered:
        assert category in categories, f"{category} not offered: {categories}"
    for category in vignette.not_offered:
        assert category not in categories, f"{category} offered: {categories}"
    if vignette.first is not None:
        assert categories, "nothing offered"
        assert categories[0] == vignette.first, categories
        assert not [o.category for o in result.options[1:] if o.rank == 1], "rank 1 is shared"
    for higher, lower in vignette.above:
        high, low = rank_of(result, higher), rank_of(result, lower)
        if low is not None:
            assert high is not None, f"{higher} not offered, {lower} is"
            assert high < low, f"{higher} (rank {high}) not above {lower} (rank {low})"
    offered_regimens = {frozenset(r.agents) for o in result.options for r in o.regimens}
    for regimen in vignette.regimens:
        assert any(regimen <= r for r in offered_regimens), f"no regimen {sorted(regimen)}"
    topics = {a.topic for a in result.advice}
    assert set(vignette.advice) <= topics, (
        f"advice missing: {sorted(set(vignette.advice) - topics)}"
    )
    if vignette.check is not None:
        vignette.check(result)

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


def alpelisib_carries_the_acs_condition(result: Evaluation) -> None:
    # Where PDQ names alpelisib for the newly diagnosed and ACS only after growth on an
    # aromatase inhibitor, the earlier offer carries ACS's condition (issue 10, item 4).
    for option in result.options:
        named = set(option.agents) | {a for r in option.regimens for a in r.agents}
        if "alpelisib" in named:
            agreement = getattr(option, "agreement", None)
            assert agreement is not None, "no agreement on the option"
            waiting = {c.source for c in agreement.conditions_not_met if "alpelisib" in c.agents}
            assert "acs" in waiting, agreement


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
    # --- HER2 positive -----------------------------------------------------------------------
    # --- triple negative ---------------------------------------------------------------------
]


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

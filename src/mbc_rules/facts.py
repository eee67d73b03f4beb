"""Derived facts: the only vocabulary that rule conditions may use.

A profile says what is known of a patient; facts say it in the terms the sources use
("hormone receptor positive", "has been treated with tamoxifen", "after at least one other
HER2-targeted drug"). Every fact is defined once in ``FACTS`` and computed once in
:func:`derive_facts`; ``docs/facts.md`` is generated from ``FACTS``.

Three kinds of fact:

* ``status``: a closed set of strings, always including an explicit ``unknown`` where the
  profile may not know, so that no rule can mistake unknown for negative;
* ``flag``: true when the profile reports the thing (a site, a complication, a prior drug),
  false when it does not report it;
* ``count``: a whole number, compared with ``at_least`` / ``at_most``.

What the cancer grew on is read once, by :func:`treatment_history`: only anticancer treatments
(hormone, targeted, immune and chemotherapy drugs) count, and a recurrence during or after an
adjuvant (early-setting) treatment counts as growth on it. The same reading drives the facts
below and the ranking's rule that nothing the cancer grew on is offered again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar

from mbc_rules.vocabulary import COMPLICATIONS, SITES

if TYPE_CHECKING:
    from mbc_rules.profile import PatientProfile, PriorTherapy
    from mbc_rules.vocabulary import Vocabulary

FactValue = str | int | bool
Facts = Mapping[str, FactValue]
FactKind = Literal["status", "flag", "count"]

RECEPTOR = ("positive", "negative", "unknown")
YES_NO = ("yes", "no", "unknown")

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class FactDefinition:
    """What a fact means, the values it takes and the profile fields it is read from."""

    name: str
    kind: FactKind
    description: str
    reads: tuple[str, ...]
    values: tuple[str, ...] = ()

    @property
    def is_timing(self) -> bool:
        """A condition on *when* (what was given before), not on who the patient is.

        Sources may disagree on timing (one names a drug for the newly diagnosed, another only
        after chemotherapy); the ranking shows such disagreement instead of letting the later
        situation silently win (``docs/sources.md``).
        """
        return self.reads == ("prior_therapies",)

    def check_value(self, value: object) -> None:
        """Raise ValueError when ``value`` is not one this fact can take."""
        if self.kind == "status":
            if not isinstance(value, str) or value not in self.values:
                hint = " (YAML reads a bare yes/no as true/false: quote it)" * isinstance(
                    value, bool
                )
                raise ValueError(
                    f"{self.name} takes one of {', '.join(self.values)}; got {value!r}{hint}"
                )
        elif self.kind == "flag":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} is true or false; got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.name} is a count; got {value!r}")


def _status(
    name: str, description: str, reads: Iterable[str], values: tuple[str, ...]
) -> FactDefinition:
    return FactDefinition(name, "status", description, tuple(reads), values)


def _flag(name: str, description: str, reads: Iterable[str]) -> FactDefinition:
    return FactDefinition(name, "flag", description, tuple(reads))


def _count(name: str, description: str, reads: Iterable[str]) -> FactDefinition:
    return FactDefinition(name, "count", description, tuple(reads))


# The organs whose involvement the sources call spread "to other organs" (as opposed to bone,
# soft tissue and lymph nodes).
ORGAN_SITES = frozenset({"liver", "lung", "brain", "leptomeninges", "pleura", "pericardium"})
# "spread to the bone or soft tissue only" (PDQ): the spine's metastases are bone metastases.
BONE_OR_SOFT_TISSUE_SITES = frozenset({"bone", "spine", "soft_tissue"})
RESECTION_SITES = ("liver", "lung", "brain", "spine")

_DEFINITIONS: list[FactDefinition] = [
    _status("er_status", "Estrogen receptor status, as given.", ["er_status"], RECEPTOR),
    _status("pr_status", "Progesterone receptor status, as given.", ["pr_status"], RECEPTOR),
    _status("her2_status", "HER2 status, as given.", ["her2_status"], RECEPTOR),
    _status("brca_status", "Germline BRCA1/2 mutation, as given.", ["brca_status"], RECEPTOR),
    _status("pik3ca_status", "PIK3CA mutation, as given.", ["pik3ca_status"], RECEPTOR),
    _status("pdl1_status", "PD-L1 made by the tumour, as given.", ["pdl1_status"], RECEPTOR),
    _status(
        "hormone_receptor_status",
        "positive when ER or PR is positive (ACS: 'estrogen receptor-positive or progesterone "
        "receptor-positive'); negative when both are negative; otherwise unknown.",
        ["er_status", "pr_status"],
        RECEPTOR,
    ),
    _status(
        "triple_negative",
        "yes when ER, PR and HER2 are all negative; no when any of them is positive; "
        "otherwise unknown.",
        ["er_status", "pr_status", "her2_status"],
        YES_NO,
    ),
    _status(
        "menopausal_status",
        "As given.",
        ["menopausal_status"],
        ("premenopausal", "postmenopausal", "unknown"),
    ),
    _status("sex", "As given.", ["sex"], ("female", "male", "unknown")),
    *[
        _flag(f"spread_to_{site}", f"'{site}' is among the metastatic sites.", ["metastatic_sites"])
        for site in SITES
        if site != "brain"
    ],
    _flag(
        "spread_to_brain",
        "'brain' is among the metastatic sites, or brain_metastases describes them.",
        ["metastatic_sites", "brain_metastases"],
    ),
    _flag(
        "spread_to_organs",
        "The cancer has spread to an organ: " + ", ".join(sorted(ORGAN_SITES)) + ".",
        ["metastatic_sites", "brain_metastases"],
    ),
    _status(
        "bone_or_soft_tissue_only",
        "yes when every metastatic site is bone, spine or soft tissue; no when another site is "
        "listed; unknown when no site is listed.",
        ["metastatic_sites", "brain_metastases"],
        YES_NO,
    ),
    _flag(
        "widespread_bone_metastases",
        "The cancer has spread to bones throughout the body.",
        ["widespread_bone_metastases"],
    ),
    *[
        _flag(complication, f"'{complication}' is among the complications.", ["complications"])
        for complication in COMPLICATIONS
    ],
    _status(
        "brain_metastases",
        "How the brain metastases present, as given.",
        ["brain_metastases"],
        ("few", "multiple", "multiple_large", "unknown"),
    ),
    *[
        _status(
            f"{site}_resectable",
            f"yes when '{site}' is among the resectable sites; no when other sites are judged "
            f"operable but not this one; unknown when no site has been judged.",
            ["resectable_sites"],
            YES_NO,
        )
        for site in RESECTION_SITES
    ],
    _status("de_novo", "Metastatic at first diagnosis.", ["de_novo"], YES_NO),
    _status(
        "good_general_health", "Otherwise in good general health.", ["good_general_health"], YES_NO
    ),
    _flag(
        "any_prior_therapy",
        "Any anticancer treatment (hormone, targeted, immune or chemotherapy drug) is listed.",
        ["prior_therapies"],
    ),
    _count(
        "her2_targeted_drugs_given",
        "How many different HER2-targeted drugs (anti-HER2 antibodies, HER2 kinase inhibitors, "
        "HER2 antibody-drug conjugates) were given, in any setting and with any outcome.",
        ["prior_therapies"],
    ),
    _flag(
        "treatment_failed",
        "The cancer grew on some anticancer treatment: it progressed on it (in the metastatic "
        "setting, or recurred during adjuvant treatment; a completed course is not growth on "
        "it) ('has not responded to other treatments'). Palliative or complementary care, "
        "trial enrolment, bone-modifying drugs and local procedures never count.",
        ["prior_therapies"],
    ),
    _flag(
        "her2_therapy_failed",
        "The cancer progressed on a HER2-targeted drug ('progression while being treated with "
        "HER2 drugs').",
        ["prior_therapies"],
    ),
    _flag(
        "trastuzumab_failed",
        "The cancer progressed on trastuzumab ('no longer respond to trastuzumab').",
        ["prior_therapies"],
    ),
    _flag("endocrine_therapy_given", "Any hormone therapy was given.", ["prior_therapies"]),
    _flag(
        "endocrine_therapy_failed",
        "The cancer progressed on a hormone therapy ('has not responded to hormone therapy').",
        ["prior_therapies"],
    ),
    _count(
        "endocrine_classes_failed",
        "How many different classes of hormone therapy (aromatase inhibitor, SERM, SERD, ...) "
        "the cancer progressed on.",
        ["prior_therapies"],
    ),
    _flag(
        "tamoxifen_given",
        "Tamoxifen was given ('has been treated with tamoxifen').",
        ["prior_therapies"],
    ),
    _flag(
        "aromatase_inhibitor_failed",
        "The cancer progressed on an aromatase inhibitor ('has grown while on an aromatase "
        "inhibitor').",
        ["prior_therapies"],
    ),
    _flag(
        "letrozole_or_anastrozole_failed",
        "The cancer progressed on letrozole or anastrozole.",
        ["prior_therapies"],
    ),
    _flag("chemotherapy_given", "Any chemotherapy drug was given.", ["prior_therapies"]),
    _count(
        "chemotherapy_drugs_given",
        "How many different chemotherapy drugs were given, in any setting.",
        ["prior_therapies"],
    ),
    _flag(
        "chemotherapy_failed",
        "The cancer progressed on a chemotherapy drug ('no longer responding to one chemo "
        "regimen').",
        ["prior_therapies"],
    ),
    _count(
        "lines_failed",
        "How many lines of treatment for metastatic disease the cancer progressed on: "
        "anticancer drugs with outcome 'progressed' in the metastatic setting, those sharing a "
        "line number counted once. 0 is the first treatment for metastatic disease ('first-line', "
        "'just been diagnosed'), whatever was given as adjuvant treatment.",
        ["prior_therapies"],
    ),
]

FACTS: dict[str, FactDefinition] = {d.name: d for d in _DEFINITIONS}


@dataclass(frozen=True, slots=True)
class PriorUse:
    """One anticancer treatment of the history, as the ranking needs it."""

    agent: str
    outcome: str
    setting: str


@dataclass(frozen=True, slots=True)
class TreatmentHistory:
    """What was given before and what the cancer grew on: read once, used by facts and rank.

    ``known`` is false when the profile omits ``prior_therapies``: the answer then assumes no
    earlier treatment and says so. ``failed`` holds the agents the cancer grew on (progressed
    on, or recurred during or after as adjuvant treatment); ``uses`` every anticancer use.
    """

    known: bool
    failed: frozenset[str]
    uses: tuple[PriorUse, ...]

    def uses_of(self, agent: str) -> tuple[PriorUse, ...]:
        """The uses of ``agent``, in the order given."""
        return tuple(use for use in self.uses if use.agent == agent)


NO_HISTORY = TreatmentHistory(known=True, failed=frozenset(), uses=())


def grew_on(outcome: str, setting: str) -> bool:
    """Whether the cancer grew on a treatment that ended so: only when it progressed on it.

    The sources speak of growth "while being treated with" a drug, "while on" it, or of a
    cancer that "no longer responds" to it: progression during the treatment (in the
    metastatic setting, or a recurrence during adjuvant treatment), recorded as
    ``progressed``. A completed course, adjuvant or not, is not growth on it, however soon the
    cancer came back: the sources give no window after the end of a treatment, so none is
    guessed (docs/sources.md, "Growth on a drug"). ``setting`` does not change the reading.
    """
    del setting
    return outcome == "progressed"


_UNKNOWN_HISTORY = TreatmentHistory(known=False, failed=frozenset(), uses=())


# Histories are values, and a cohort repeats the same few hundred: each distinct one is built
# once and shared, so that caches keyed by a history find it by identity. Kept per vocabulary
# (held, so that its id is not another's): what the cancer grew on depends on the vocabulary's
# drug classes, so two vocabularies never share a history.
_HISTORIES: dict[
    int, tuple[Vocabulary, dict[tuple[tuple[str, str, str], ...], TreatmentHistory]]
] = {}
_HISTORIES_BOUND = 4096
_VOCABULARIES_BOUND = 64


def treatment_history(profile: PatientProfile, vocabulary: Vocabulary) -> TreatmentHistory:
    """The anticancer part of the profile's history, and what the cancer grew on."""
    return history_of(profile.prior_therapies, vocabulary)


def history_of(
    therapies: Sequence[PriorTherapy] | None, vocabulary: Vocabulary
) -> TreatmentHistory:
    """:func:`treatment_history` of a validated ``prior_therapies`` value (None: not given)."""
    if therapies is None:
        return _UNKNOWN_HISTORY
    if not therapies:
        return NO_HISTORY
    uses = tuple(
        (t.agent, t.outcome, t.setting) for t in therapies if vocabulary[t.agent].is_anticancer
    )
    memory = _held_for(_HISTORIES, vocabulary)
    history = memory.get(uses)
    if history is None:
        failed = _failed(uses, vocabulary)
        history = TreatmentHistory(known=True, failed=failed, uses=tuple(map(_as_use, uses)))
        if len(memory) >= _HISTORIES_BOUND:
            memory.clear()
        memory[uses] = history
    return history


def _held_for(
    store: dict[int, tuple[Vocabulary, dict[_K, _V]]], vocabulary: Vocabulary
) -> dict[_K, _V]:
    """The memory ``store`` keeps for ``vocabulary``, made empty for one it has not seen."""
    held = store.get(id(vocabulary))
    if held is None or held[0] is not vocabulary:
        if len(store) >= _VOCABULARIES_BOUND:
            store.clear()
        held = store[id(vocabulary)] = (vocabulary, {})
    return held[1]


def failed_of(therapies: Sequence[PriorTherapy] | None, vocabulary: Vocabulary) -> frozenset[str]:
    """``history_of(therapies, vocabulary).failed``, without building the history."""
    if not therapies:
        return frozenset()
    return _failed(
        [(t.agent, t.outcome, t.setting) for t in therapies if vocabulary[t.agent].is_anticancer],
        vocabulary,
    )


def _failed(uses: Iterable[tuple[str, str, str]], vocabulary: Vocabulary) -> frozenset[str]:
    # Growth on a drug is growth on it under each of its names (albumin-bound paclitaxel is
    # paclitaxel); growth on a class the record names instead of a drug is growth on each drug
    # of it (Vocabulary.grown_on).
    return frozenset(
        same
        for agent, outcome, setting in uses
        if grew_on(outcome, setting)
        for same in vocabulary.grown_on(agent)
    )


def _as_use(use: tuple[str, str, str]) -> PriorUse:
    return PriorUse(*use)


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _hormone_receptor_status(er: str, pr: str) -> str:
    if "positive" in (er, pr):
        return "positive"
    if er == pr == "negative":
        return "negative"
    return "unknown"


# Every fact as it stands for a profile that reports nothing: derive_facts starts from a copy
# and sets what the profile says (in this order, so the facts keep the order of ``FACTS``).
_BLANK: dict[str, FactValue] = {
    "er_status": "unknown",
    "pr_status": "unknown",
    "her2_status": "unknown",
    "brca_status": "unknown",
    "pik3ca_status": "unknown",
    "pdl1_status": "unknown",
    "hormone_receptor_status": "unknown",
    "triple_negative": "unknown",
    "menopausal_status": "unknown",
    "sex": "unknown",
    **{f"spread_to_{site}": False for site in SITES},
    "spread_to_organs": False,
    "bone_or_soft_tissue_only": "unknown",
    "widespread_bone_metastases": False,
    **dict.fromkeys(COMPLICATIONS, False),
    "brain_metastases": "unknown",
    **{f"{site}_resectable": "unknown" for site in RESECTION_SITES},
    "de_novo": "unknown",
    "good_general_health": "unknown",
    "any_prior_therapy": False,
    "her2_targeted_drugs_given": 0,
    "treatment_failed": False,
    "her2_therapy_failed": False,
    "trastuzumab_failed": False,
    "endocrine_therapy_given": False,
    "endocrine_therapy_failed": False,
    "endocrine_classes_failed": 0,
    "tamoxifen_given": False,
    "aromatase_inhibitor_failed": False,
    "letrozole_or_anastrozole_failed": False,
    "chemotherapy_given": False,
    "chemotherapy_drugs_given": 0,
    "chemotherapy_failed": False,
    "lines_failed": 0,
}
_SPREAD_TO = {site: f"spread_to_{site}" for site in SITES}
_COMPLICATION_FACTS = frozenset(COMPLICATIONS)
_RESECTABLE = tuple((site, f"{site}_resectable") for site in RESECTION_SITES)
_YES_NO = {None: "unknown", True: "yes", False: "no"}


def derive_facts(profile: PatientProfile, vocabulary: Vocabulary) -> dict[str, FactValue]:
    """Compute every fact in ``FACTS`` from a validated profile."""
    er, pr, her2 = profile.er_status, profile.pr_status, profile.her2_status
    hormone_receptors = _hormone_receptor_status(er, pr)
    if hormone_receptors == "negative" and her2 == "negative":
        triple_negative = "yes"
    elif hormone_receptors == "positive" or her2 == "positive":
        triple_negative = "no"
    else:
        triple_negative = "unknown"
    facts = _BLANK.copy()
    facts["er_status"] = er
    facts["pr_status"] = pr
    facts["her2_status"] = her2
    facts["brca_status"] = profile.brca_status
    facts["pik3ca_status"] = profile.pik3ca_status
    facts["pdl1_status"] = profile.pdl1_status
    facts["hormone_receptor_status"] = hormone_receptors
    facts["triple_negative"] = triple_negative
    facts["menopausal_status"] = profile.menopausal_status
    facts["sex"] = profile.sex

    sites = set(profile.metastatic_sites)
    if profile.brain_metastases != "unknown":
        sites.add("brain")
    if sites:
        for site in sites:
            if site in _SPREAD_TO:
                facts[_SPREAD_TO[site]] = True
        facts["spread_to_organs"] = not sites.isdisjoint(ORGAN_SITES)
        facts["bone_or_soft_tissue_only"] = "yes" if sites <= BONE_OR_SOFT_TISSUE_SITES else "no"
    facts["widespread_bone_metastases"] = bool(profile.widespread_bone_metastases)
    for complication in profile.complications or ():
        if complication in _COMPLICATION_FACTS:
            facts[complication] = True
    facts["brain_metastases"] = profile.brain_metastases
    if profile.resectable_sites:
        resectable = set(profile.resectable_sites)
        for resection_site, fact in _RESECTABLE:
            facts[fact] = "yes" if resection_site in resectable else "no"
    facts["de_novo"] = _YES_NO[profile.de_novo]
    facts["good_general_health"] = _YES_NO[profile.good_general_health]
    if profile.prior_therapies:
        _history_facts(facts, profile, vocabulary)
    return facts


class EntryFacts(NamedTuple):
    """What one entry of a treatment history adds to the history facts.

    The history facts are each an ``any`` of these flags, a count of distinct drugs or
    classes, or the count of lines (:func:`_history_facts`); the columnar engine joins the
    same records column-wise, so an entry is read in one place.
    """

    anticancer: bool
    her2_drug: str | None  # the drug, if HER2-targeted (counted once however often given)
    chemotherapy_drug: str | None
    endocrine: bool
    tamoxifen: bool
    grew: bool  # the cancer grew on it (an anticancer treatment: grew_on)
    her2_failed: bool
    trastuzumab_failed: bool
    endocrine_failed: bool
    # The class of an endocrine drug the cancer grew on ((None,) for a drug of no class).
    endocrine_class_failed: tuple[str | None, ...]
    aromatase_inhibitor_failed: bool
    letrozole_or_anastrozole_failed: bool
    chemotherapy_failed: bool
    # A failed line of metastatic treatment: UNNUMBERED_LINE, its line number, or None.
    line: int | None
    grown_on: frozenset[str]  # what the cancer grew on (Vocabulary.grown_on), if it grew


UNNUMBERED_LINE = 0
_NOT_ANTICANCER = EntryFacts(
    False, None, None, False, False, False, False, False, False, (), False, False, False, None,
    frozenset(),
)  # fmt: skip
# Per vocabulary (held, so that its id is not another's), each distinct entry read once.
_ENTRIES: dict[int, tuple[Vocabulary, dict[tuple[str, str, str, int | None], EntryFacts]]] = {}


def entry_facts(therapy: PriorTherapy, vocabulary: Vocabulary) -> EntryFacts:
    """What ``therapy`` adds to the history facts (remembered per vocabulary and entry)."""
    memory = _held_for(_ENTRIES, vocabulary)
    key = (therapy.agent, therapy.outcome, therapy.setting, therapy.line)
    found = memory.get(key)
    if found is not None:
        return found
    agent = vocabulary[therapy.agent]
    # Only anticancer treatments count: yoga or palliative care is never a failed line.
    if not agent.is_anticancer:
        found = _NOT_ANTICANCER
    else:
        her2, chemotherapy, endocrine = (
            agent.is_her2_targeted,
            agent.is_chemotherapy,
            agent.is_endocrine,
        )
        grew = grew_on(therapy.outcome, therapy.setting)
        line = None
        if grew and therapy.setting == "metastatic" and therapy.outcome == "progressed":
            # Drugs sharing a line number are one line; an entry without one is its own line.
            line = UNNUMBERED_LINE if therapy.line is None else therapy.line
        found = EntryFacts(
            anticancer=True,
            her2_drug=agent.id if her2 else None,
            chemotherapy_drug=agent.id if chemotherapy else None,
            endocrine=endocrine,
            tamoxifen=agent.id == "tamoxifen",
            grew=grew,
            her2_failed=grew and her2,
            trastuzumab_failed=grew and agent.id == "trastuzumab",
            endocrine_failed=grew and endocrine,
            endocrine_class_failed=(agent.drug_class,) if grew and endocrine else (),
            aromatase_inhibitor_failed=grew and agent.is_in("aromatase_inhibitor"),
            letrozole_or_anastrozole_failed=grew
            and agent.is_in("nonsteroidal_aromatase_inhibitor"),
            chemotherapy_failed=grew and chemotherapy,
            line=line,
            grown_on=vocabulary.grown_on(agent.id) if grew else frozenset(),
        )
    if len(memory) < 65_536:
        memory[key] = found
    return found


def _history_facts(
    facts: dict[str, FactValue], profile: PatientProfile, vocabulary: Vocabulary
) -> None:
    given = False
    her2_drugs: set[str] = set()
    chemo_drugs: set[str] = set()
    endocrine_classes_failed: set[str | None] = set()
    numbered_lines: set[int] = set()
    unnumbered_lines = 0
    for therapy in profile.prior_therapies or ():
        entry = entry_facts(therapy, vocabulary)
        if not entry.anticancer:
            continue
        given = True
        if entry.her2_drug is not None:
            her2_drugs.add(entry.her2_drug)
        if entry.chemotherapy_drug is not None:
            chemo_drugs.add(entry.chemotherapy_drug)
        if entry.endocrine:
            facts["endocrine_therapy_given"] = True
        if entry.tamoxifen:
            facts["tamoxifen_given"] = True
        if not entry.grew:
            continue
        facts["treatment_failed"] = True
        if entry.her2_failed:
            facts["her2_therapy_failed"] = True
        if entry.trastuzumab_failed:
            facts["trastuzumab_failed"] = True
        if entry.endocrine_failed:
            facts["endocrine_therapy_failed"] = True
            endocrine_classes_failed.update(entry.endocrine_class_failed)
        if entry.aromatase_inhibitor_failed:
            facts["aromatase_inhibitor_failed"] = True
        if entry.letrozole_or_anastrozole_failed:
            facts["letrozole_or_anastrozole_failed"] = True
        if entry.chemotherapy_failed:
            facts["chemotherapy_failed"] = True
        if entry.line == UNNUMBERED_LINE:
            unnumbered_lines += 1
        elif entry.line is not None:
            numbered_lines.add(entry.line)
    facts["any_prior_therapy"] = given
    facts["her2_targeted_drugs_given"] = len(her2_drugs)
    facts["endocrine_classes_failed"] = len(endocrine_classes_failed)
    facts["chemotherapy_given"] = bool(chemo_drugs)
    facts["chemotherapy_drugs_given"] = len(chemo_drugs)
    facts["lines_failed"] = len(numbered_lines) + unnumbered_lines


def facts_markdown() -> str:
    """The reference of every fact, as ``docs/facts.md`` holds it."""
    lines = [
        "# Derived facts",
        "",
        "<!-- Generated from mbc_rules.facts.FACTS by `make docs`; do not edit by hand. -->",
        "",
        "Rule conditions may only test these facts. Each is computed from the patient profile "
        "in `src/mbc_rules/facts.py`. A `status` fact always has an explicit `unknown` value, "
        "so that no rule can read unknown as negative; a `flag` is true when the profile "
        "reports the thing; a `count` is compared with `at_least` / `at_most`.",
        "",
        "| fact | kind | values | read from | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for fact in FACTS.values():
        values = {"status": ", ".join(fact.values), "flag": "true, false", "count": "0, 1, 2, ..."}
        lines.append(
            f"| `{fact.name}` | {fact.kind} | {values[fact.kind]} | "
            f"{', '.join(f'`{r}`' for r in fact.reads)} | {fact.description} |"
        )
    return "\n".join(lines) + "\n"

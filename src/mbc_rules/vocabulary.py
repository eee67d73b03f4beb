"""The closed vocabularies of the domain, and name lookup in the drug and procedure vocabulary.

The value lists here are the public contract of the patient profile and of the rule files; the
drug vocabulary itself lives in ``rules/vocabulary.yaml`` so that rule authors can extend it.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mbc_rules.errors import UnknownAgentError

Status = Literal["positive", "negative", "unknown"]
MenopausalStatus = Literal["premenopausal", "postmenopausal", "unknown"]
Sex = Literal["female", "male", "unknown"]
Site = Literal[
    "bone",
    "liver",
    "lung",
    "brain",
    "spine",
    "soft_tissue",
    "lymph_nodes",
    "pleura",
    "pericardium",
    "leptomeninges",
    "chest_wall",
    "breast",
    "other",
]
Complication = Literal[
    "visceral_crisis",
    "rapid_growth",
    "symptomatic",
    "spinal_cord_compression",
    "bone_pain",
    "fracture_risk",
    "pathologic_fracture",
    "open_breast_wound",
    "pleural_effusion",
    "pericardial_effusion",
    "liver_vessel_blockage",
]
BrainMetastases = Literal["few", "multiple", "multiple_large", "unknown"]
Outcome = Literal["ongoing", "progressed", "completed", "intolerant", "unknown"]
Setting = Literal["metastatic", "early"]

Category = Literal[
    "hormone_therapy",
    "targeted_therapy",
    "immunotherapy",
    "chemotherapy",
    "radiation_therapy",
    "surgery",
    "bone_modifying_therapy",
    "palliative_care",
    "complementary_therapy",
    "clinical_trial",
]
Tier = Literal["preferred", "option", "situational"]
AgentKind = Literal["drug", "procedure", "therapy_class"]

# The words of a cited sentence that set a rule's tier (docs/ranking.md shows the mapping; lint
# checks that each rule's ``tier_word`` stands in one of its excerpts and belongs to its tier).
TIER_WORDS: dict[str, tuple[str, ...]] = {
    "preferred": (
        "first",
        "first-line",
        "main",
        "mainly",
        "usual",
        "usually",
        "typical",
        "typically",
        "all",
        "recommend",
    ),
    "option": (
        "may",
        "can",
        "option",
        "options",
        "choice",
        "often",
        "include",
        "suggest",
        "used",
        "prescribe",
        "shown",
        "offer",
    ),
    "situational": ("might", "sometimes", "certain", "possibly", "considered", "rarely"),
}

SITES: tuple[str, ...] = get_args(Site)
COMPLICATIONS: tuple[str, ...] = get_args(Complication)
CATEGORIES: tuple[str, ...] = get_args(Category)
TIERS: tuple[str, ...] = get_args(Tier)

Role = Literal["anticancer", "supportive"]
# Care given alongside the anticancer choices, in the sources' words (docs/reading-results.md):
# bone-modifying drugs "to reduce bone disease and pain" (PDQ), palliative care "you may have
# along with your other treatments" ... "they don't fight the disease" (WebMD), complementary
# treatments "may help ease treatment side effects" (WebMD). Radiation and surgery stay among
# the choices by default: the sources give them both goals ("to remove cancer that has
# spread ... and to prevent or relieve pain or other symptoms", MLH), so a category cannot say
# which one; an offer whose sentence gives the purpose says it (``Offer.role``).
#
# Where each category stands, in one table: the order options of equal rank are listed in,
# how the ranking groups it (systemic drugs first; local and other treatment after them; care
# that does not fight the cancer last: palliative care and complementary treatments), and
# whether it is care given alongside by default.
RankingGroup = Literal["systemic", "local", "other", "care"]


@dataclass(frozen=True, slots=True)
class CategoryRow:
    """What the library holds of one treatment category."""

    name: str
    group: RankingGroup
    alongside: bool  # its role is "supportive" unless an offer's sentence says otherwise


CATEGORY_TABLE: tuple[CategoryRow, ...] = (
    CategoryRow("hormone_therapy", "systemic", alongside=False),
    CategoryRow("targeted_therapy", "systemic", alongside=False),
    CategoryRow("immunotherapy", "systemic", alongside=False),
    CategoryRow("chemotherapy", "systemic", alongside=False),
    CategoryRow("radiation_therapy", "local", alongside=False),
    CategoryRow("surgery", "local", alongside=False),
    CategoryRow("bone_modifying_therapy", "other", alongside=True),
    CategoryRow("clinical_trial", "other", alongside=False),
    CategoryRow("palliative_care", "care", alongside=True),
    CategoryRow("complementary_therapy", "care", alongside=True),
)
CATEGORY_ORDER: tuple[str, ...] = tuple(row.name for row in CATEGORY_TABLE)
if set(CATEGORY_ORDER) != set(CATEGORIES) or len(CATEGORY_ORDER) != len(CATEGORIES):
    raise AssertionError("CATEGORY_TABLE must list every Category once")
SUPPORTIVE_CATEGORIES: frozenset[str] = frozenset(r.name for r in CATEGORY_TABLE if r.alongside)
CARE_CATEGORIES: frozenset[str] = frozenset(r.name for r in CATEGORY_TABLE if r.group == "care")


def role_of(category: str) -> Role:
    """'supportive' for care given alongside the anticancer choices, else 'anticancer' (an
    offer's own ``role`` says otherwise where its sentence gives the purpose).
    """
    return "supportive" if category in SUPPORTIVE_CATEGORIES else "anticancer"


# Treatments that fight the cancer through the whole body: only these make a line of treatment
# or can fail. Palliative and complementary care, trial enrolment, bone-modifying drugs and
# local procedures do not (a yoga class that "progressed" is not a failed line).
SYSTEMIC_CATEGORIES = frozenset(r.name for r in CATEGORY_TABLE if r.group == "systemic")
LOCAL_CATEGORIES = frozenset(r.name for r in CATEGORY_TABLE if r.group == "local")
# The broad classes that facts and ranking ask about; rules/drug_classes.yaml places every
# other class within them.
ENDOCRINE = "endocrine"
HER2_TARGETED = "her2_targeted"


@dataclass(frozen=True, slots=True)
class DrugClass:
    """A class of drugs, as rules/drug_classes.yaml declares it."""

    id: str
    name: str
    within: str | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    """A drug, procedure or class of drugs, as the vocabulary names it."""

    id: str
    name: str
    kind: AgentKind
    category: Category
    drug_class: str | None
    brands: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    in_sources: bool = False
    rxnorm: tuple[str, ...] = ()
    # Another entry that is the same drug under another name (albumin-bound paclitaxel is
    # paclitaxel): growth on one is growth on the other.
    same_drug_as: str | None = None
    # Its class and every class that one lies within, narrowest first (set by Vocabulary.of).
    classes: tuple[str, ...] = ()

    @property
    def is_endocrine(self) -> bool:
        """A hormone (endocrine) therapy."""
        return ENDOCRINE in self.classes

    @property
    def is_her2_targeted(self) -> bool:
        """A HER2-targeted drug (antibody, kinase inhibitor or antibody-drug conjugate)."""
        return HER2_TARGETED in self.classes

    def is_in(self, drug_class: str) -> bool:
        """Whether the agent's class is ``drug_class`` or lies within it."""
        return drug_class in self.classes

    @property
    def is_anticancer(self) -> bool:
        """A drug or class of drugs against the cancer itself: the only kind a line holds."""
        return self.category in SYSTEMIC_CATEGORIES and self.kind != "procedure"

    @property
    def is_chemotherapy(self) -> bool:
        """A chemotherapy drug (not a procedure of the chemotherapy category)."""
        return self.category == "chemotherapy" and self.kind != "procedure"


class VocabularyEntry(BaseModel):
    """A drug, procedure or class of drugs."""

    # Validates vocabulary files only (see ``schema``): built on first use.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
    name: str
    kind: AgentKind
    drug_class: str | None = None
    category: Category
    brands: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    rxnorm: list[Annotated[str, Field(pattern=r"^[0-9]{1,10}$")]] = Field(
        default_factory=list,
        description="RxNorm ingredient codes (RXCUI) of the drug, read from FHIR medications.",
    )
    in_sources: bool
    same_drug_as: str | None = Field(
        None,
        description="The id of another entry that is the same drug under another name "
        "(albumin-bound paclitaxel is paclitaxel): growth on one is growth on the other.",
    )

    @model_validator(mode="after")
    def _drugs_have_a_class(self) -> VocabularyEntry:
        if self.kind != "procedure" and self.drug_class is None:
            raise ValueError(f"a {self.kind} needs a drug_class")
        return self

    def agent(self) -> Agent:
        """The entry as the vocabulary holds it."""
        return Agent(
            id=self.id,
            name=self.name,
            kind=self.kind,
            category=self.category,
            drug_class=self.drug_class,
            brands=tuple(self.brands),
            aliases=tuple(self.aliases),
            in_sources=self.in_sources,
            rxnorm=tuple(self.rxnorm),
            same_drug_as=self.same_drug_as,
        )


class DrugClassEntry(BaseModel):
    """A class of drugs in a rule file's ``drug_classes`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    within: str | None = Field(None, description="The id of the broader class it lies within.")

    def drug_class(self) -> DrugClass:
        """The class as the vocabulary holds it."""
        return DrugClass(id=self.id, name=self.name, within=self.within)


def lineage(drug_class: str | None, classes: Mapping[str, DrugClass]) -> tuple[str, ...]:
    """``drug_class`` and every class it lies within, narrowest first (stops at a cycle)."""
    chain: list[str] = []
    current = drug_class
    while current is not None and current not in chain:
        chain.append(current)
        found = classes.get(current)
        current = found.within if found is not None else None
    return tuple(chain)


def name_key(name: str) -> str:
    """Case, hyphen and space insensitive key, so 'Ado-Trastuzumab Emtansine' finds its entry."""
    return " ".join(name.casefold().replace("-", " ").replace("_", " ").split())


_MAX_SPELLINGS = 10_000


@dataclass(frozen=True)
class Vocabulary:
    """Lookup of agents by id, generic name, brand name or alias, in any case."""

    agents: Mapping[str, Agent]
    classes: Mapping[str, DrugClass] = field(default_factory=dict)
    _by_name: dict[str, str] = field(default_factory=dict, repr=False)
    _by_rxnorm: dict[str, str] = field(default_factory=dict, repr=False)
    # Names as written that were found, and their agent: a cohort writes the same few
    # spellings again and again. Bounded, so that hostile input cannot grow it without end.
    _spellings: dict[str, Agent] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, agents: Iterable[Agent], classes: Iterable[DrugClass] = ()) -> Vocabulary:
        """The vocabulary of ``agents``, indexed by id, names, brands, aliases and RxNorm codes,
        each agent placed in ``classes`` (validated: every ``within`` is declared, no cycle).
        """
        by_class = {c.id: c for c in classes}
        by_id = {
            agent.id: replace(agent, classes=lineage(agent.drug_class, by_class))
            for agent in agents
        }
        by_name: dict[str, str] = {}
        for agent in by_id.values():
            for name in (agent.id, agent.name, *agent.brands, *agent.aliases):
                by_name.setdefault(name_key(name), agent.id)
        by_rxnorm = {code: agent.id for agent in by_id.values() for code in agent.rxnorm}
        return cls(agents=by_id, classes=by_class, _by_name=by_name, _by_rxnorm=by_rxnorm)

    def class_name(self, drug_class: str) -> str:
        """The reader's words for a class ('CDK4/6 inhibitor'); its id spelt out if undeclared."""
        found = self.classes.get(drug_class)
        return found.name if found is not None else drug_class.replace("_", " ")

    def same_drug(self, agent_id: str) -> frozenset[str]:
        """The entries that are the same drug as ``agent_id`` (itself included)."""
        return self._same.get(agent_id, frozenset({agent_id}))

    def grown_on(self, agent_id: str) -> frozenset[str]:
        """What growth on ``agent_id`` is growth on: the drug under each of its names, and for
        a class a record names instead of a drug ("progressed on a CDK4/6 inhibitor"), every
        drug and class within it (which of them it was is not known, so none is offered again).
        """
        return self._grown.get(agent_id) or self.same_drug(agent_id)

    @functools.cached_property
    def _grown(self) -> dict[str, frozenset[str]]:
        grown: dict[str, frozenset[str]] = {}
        for agent in self.agents.values():
            if agent.kind == "therapy_class" and agent.drug_class is not None:
                members = {a.id for a in self.agents.values() if a.is_in(agent.drug_class)}
                grown[agent.id] = frozenset(
                    {agent.id, *(same for m in members for same in self.same_drug(m))}
                )
        return grown

    @functools.cached_property
    def _same(self) -> dict[str, frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for agent in self.agents.values():
            if agent.same_drug_as is not None and agent.same_drug_as in self.agents:
                group = groups.get(agent.id, {agent.id}) | groups.get(
                    agent.same_drug_as, {agent.same_drug_as}
                )
                for member in group:
                    groups[member] = group
        return {a: frozenset(g) for a, g in groups.items()}

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self.agents

    def __getitem__(self, agent_id: str) -> Agent:
        return self.agents[agent_id]

    def __len__(self) -> int:
        return len(self.agents)

    def resolve(self, name: str) -> Agent:
        """Return the agent a generic, brand or alias name refers to.

        Raises:
            UnknownAgentError: the name is not in the vocabulary; it suggests the nearest names.
        """
        agent = self.known(name)
        if agent is None:
            raise UnknownAgentError(name, self.suggest(name))
        return agent

    def known(self, name: str) -> Agent | None:
        """The agent a generic, brand or alias name refers to; None when there is none."""
        agent = self._spellings.get(name)
        if agent is None:
            agent_id = self._by_name.get(name_key(name))
            if agent_id is None:
                return None
            agent = self.agents[agent_id]
            if len(self._spellings) < _MAX_SPELLINGS:
                self._spellings[name] = agent
        return agent

    def by_rxnorm(self, code: str) -> Agent | None:
        """The agent whose RxNorm ingredient code this is, or None."""
        agent_id = self._by_rxnorm.get(code)
        return None if agent_id is None else self.agents[agent_id]

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """The vocabulary names closest to ``name``, as ids, nearest first."""
        matches = difflib.get_close_matches(
            name_key(name), list(self._by_name), n=limit, cutoff=0.6
        )
        suggestions: list[str] = []
        for match in matches:
            agent_id = self._by_name[match]
            if agent_id not in suggestions:
                suggestions.append(agent_id)
        return suggestions

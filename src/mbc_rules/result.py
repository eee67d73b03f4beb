"""The result of an evaluation: ranked, cited treatment options and what is not recommended.

These models are the public contract of the output (they serialise to JSON and back
unchanged, and their JSON Schema is published for applications in other languages). They are
values: frozen, with tuples for every sequence, and no reference to the rulebase that made
them. What needs the rules (explanations, informative tests, display) takes the rulebase and
the result as arguments: see ``Rulebase.explain`` and ``Rulebase.informative_tests``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import SchemaSerializer

from mbc_rules.profile import STORED, PatientProfile
from mbc_rules.vocabulary import Category, Role, Tier

DISCLAIMER = (
    "Decision support that cites its sources, not medical advice: every option is traced to "
    "published patient-facing guidance and must be weighed by the treating clinician."
)

_OUTPUT = ConfigDict(extra="forbid", frozen=True)

NotRecommendedKind = Literal[
    "advised_against", "grew_on_before", "held_back_after_growth", "not_available_here"
]


class CitedSource(BaseModel):
    """A verbatim excerpt of a source document, with where it stands."""

    model_config = _OUTPUT

    source: str = Field(description="Source id, as in the rulebase's sources.")
    publisher: str
    section: str
    excerpt: str
    statement: str = Field(
        description="Id of the statement in the rulebase's inventory (rules/statements.yaml)."
    )


class AgentName(BaseModel):
    """A drug, procedure or class of the result, as a person reads it."""

    model_config = _OUTPUT

    id: str
    name: str = Field(
        description="The vocabulary's name; a class placeholder reads as a class, with its "
        "article ('a CDK4/6 inhibitor')."
    )


class SourceName(BaseModel):
    """A source of the rulebase that made the result, as a person reads it."""

    model_config = _OUTPUT

    id: str
    publisher: str
    short_name: str = Field(description="The name one-line summaries use, e.g. 'ACS'.")
    dates: tuple[str, ...] = Field(
        (), description="The dates the source gives, in words ('last revised 2019-12-23')."
    )


class Names(BaseModel):
    """What showing a result needs beside its ids: the readable name of every drug it names
    and the rulebase's sources. A result carries them so that it shows itself (``str``,
    ``to_markdown``, the notebook view) with no rulebase behind it.
    """

    model_config = _OUTPUT

    agents: tuple[AgentName, ...] = Field(
        (), description="Every agent id the result names (options, regimens, history)."
    )
    sources: tuple[SourceName, ...] = Field(
        (), description="Every source of the rulebase, in the rulebase's order."
    )

    def agent(self, agent_id: str) -> str:
        """The reader's name of ``agent_id``; an id the result does not name, without its
        underscores (a result made before results carried names).
        """
        for entry in self.agents:
            if entry.id == agent_id:
                return entry.name
        return agent_id.replace("_", " ")

    def with_agents(self, more: Sequence[AgentName]) -> Names:
        """These names and ``more`` (the names of what a test's outcome would add, say)."""
        if not more:
            return self
        known = {entry.id for entry in self.agents}
        added = tuple(entry for entry in more if entry.id not in known)
        return Names(agents=self.agents + added, sources=self.sources) if added else self

    def source(self, source_id: str) -> SourceName | None:
        """The source ``source_id``, when the rulebase has it."""
        return next((s for s in self.sources if s.id == source_id), None)


class CitationGroup(BaseModel):
    """The citations of an option that support the same drugs or regimens of it."""

    model_config = _OUTPUT

    agents: tuple[str, ...] = Field(
        description="The option's single agents these sentences name; with no regimen either, "
        "the sentences speak of the category in general."
    )
    regimens: tuple[tuple[str, ...], ...] = Field(
        (), description="The option's regimens these sentences name, each as its agents."
    )
    tier: Tier = Field(description="The strongest tier these sentences give.")
    citations: tuple[int, ...] = Field(
        description="Positions in the option's citations, strongest source first."
    )


class RegimenOption(BaseModel):
    """Agents given together."""

    model_config = _OUTPUT

    agents: tuple[str, ...]
    name: str = Field(description="The regimen in words, e.g. 'alpelisib with fulvestrant'.")


class AgreementCondition(BaseModel):
    """A source that names this option only in a situation this patient is not in (yet).

    Conditions on who the patient is hold whoever states them; conditions on *when* (after
    chemotherapy, after other treatments, just diagnosed) may differ between sources, and the
    difference is shown here rather than silently settled.
    """

    model_config = _OUTPUT

    source: str = Field(description="Source id.")
    publisher: str
    agents: tuple[str, ...] = Field(
        description="The agents of this option the source names in that situation; empty when "
        "it speaks of the whole category."
    )
    condition: tuple[str, ...] = Field(
        description="The timing conditions of that statement not met here, as fact tests "
        "(e.g. 'chemotherapy_given = true'); docs/facts.md defines each fact."
    )
    rule_id: str
    situation: str = Field(
        default="", description="The statement in words (the rule's title), for readers."
    )
    citations: tuple[CitedSource, ...] = Field(description="The source's sentence stating it.")


class Agreement(BaseModel):
    """Which sources support an option as offered, and which attach a condition not met here."""

    model_config = _OUTPUT

    supporting: tuple[str, ...] = Field(
        description="Ids of the sources that support it as offered."
    )
    conditions_not_met: tuple[AgreementCondition, ...] = ()


class GivenBefore(BaseModel):
    """An agent of this option that the history already lists (it is not new to the patient)."""

    model_config = _OUTPUT

    agent: str
    outcome: str = Field(description="ongoing, completed, intolerant or unknown, as given.")
    setting: str


class OptionNote(BaseModel):
    """Something the sources say about how an option is given here, with the sentence."""

    model_config = _OUTPUT

    topic: str
    text: str
    citations: tuple[CitedSource, ...]


class TreatmentOption(BaseModel):
    """One treatment category offered for the profile, with its rank and its support."""

    model_config = _OUTPUT

    rank: int = Field(ge=1, description="1 is first; options that tie share a rank.")
    category: Category
    tier: Tier = Field(description="preferred, option or situational, from the sources' words.")
    role: Role = Field(
        "anticancer",
        description="anticancer: one of the choices against the cancer; supportive: care the "
        "sources give alongside them (bone-modifying drugs, palliative and complementary "
        "care, and radiation or surgery that every offering sentence gives to relieve pain or "
        "symptoms or to prevent fractures). The rank orders all options together, as before.",
    )
    agents: tuple[str, ...] = Field(
        description="The drugs or procedures of this category: single agents first, then the "
        "regimen members that belong to the category."
    )
    regimens: tuple[RegimenOption, ...]
    rationale: tuple[str, ...] = Field(description="One line per rule that offers this option.")
    citations: tuple[CitedSource, ...]
    rule_ids: tuple[str, ...]
    source_ids: tuple[str, ...]
    agreement: Agreement = Field(
        default_factory=lambda: Agreement(supporting=()),
        description="The sources that support this option as offered, and those that name it "
        "only in a situation not met here (with their sentence).",
    )
    given_before: tuple[GivenBefore, ...] = Field(
        (),
        description="Agents of this option already in the history that the cancer did not "
        "grow on (stopped for intolerance, completed, ongoing): not new to the patient.",
    )
    notes: tuple[OptionNote, ...] = Field(
        (),
        description="How the sources say to give it here (e.g. with anti-HER2 treatment).",
    )
    citation_groups: tuple[CitationGroup, ...] = Field(
        (),
        description="The citations grouped by the drugs or regimens they support, the "
        "strongest tier first: what the views show under each option.",
    )

    local_rules: tuple[str, ...] = Field(
        (),
        description="The rules of rule_ids that come from a local layer (Rulebase.with_local: "
        "ids starting with 'local-'); empty when the option is the bundled rules' alone.",
    )


def named_agents(option: TreatmentOption) -> list[str]:
    """Every agent id ``option`` names: its drugs, its regimens' members, the drugs of the
    sources that name it elsewhere, and what of it was given before.
    """
    return [
        *option.agents,
        *(agent for regimen in option.regimens for agent in regimen.agents),
        *(agent for other in option.agreement.conditions_not_met for agent in other.agents),
        *(given.agent for given in option.given_before),
    ]


class NotRecommendedItem(BaseModel):
    """A category or agents that the sources say not to use for this profile."""

    model_config = _OUTPUT

    category: Category | None
    agents: tuple[str, ...]
    reason: str
    citations: tuple[CitedSource, ...]
    rule_ids: tuple[str, ...]
    kind: NotRecommendedKind = Field(
        "advised_against",
        description="Why: advised_against, a source says not to use it; grew_on_before, the "
        "cancer grew on it (no rule states it: the history does); held_back_after_growth, "
        "other drugs of a class the cancer grew on that no source names next; "
        "not_available_here, a local rule says it is not available at this institution "
        "(a bundled option it names is listed here, never dropped silently).",
    )
    local_rules: tuple[str, ...] = Field(
        (), description="The rules of rule_ids that come from a local layer ('local-' ids)."
    )


class AdviceItem(BaseModel):
    """Guidance that is not a treatment option: a treatment break, a biopsy, a caution."""

    model_config = _OUTPUT

    topic: str
    text: str
    citations: tuple[CitedSource, ...]
    rule_ids: tuple[str, ...]
    local_rules: tuple[str, ...] = Field(
        (), description="The rules of rule_ids that come from a local layer ('local-' ids)."
    )


class RankChange(BaseModel):
    """An option that stays but moves, against the options present both now and then.

    An option whose number only changes because another option appears or leaves has not
    moved and is not listed.
    """

    model_config = _OUTPUT

    category: Category
    rank_now: int
    rank_then: int
    direction: Literal["up", "down"] = Field(
        description="up: it would come before (or level with) options it now follows; down: "
        "the reverse."
    )
    passes: tuple[Category, ...] = Field(
        default=(), description="Options it would move ahead of, or draw level with."
    )
    passed_by: tuple[Category, ...] = Field(
        default=(), description="Options that would move ahead of it, or draw level with it."
    )


class TestOutcome(BaseModel):
    """How the answer would change if an unknown status had this value."""

    model_config = _OUTPUT

    value: str
    options_appear: tuple[Category, ...]
    options_disappear: tuple[Category, ...]
    rank_changes: tuple[RankChange, ...]
    agents_appear: tuple[str, ...]
    agents_disappear: tuple[str, ...]
    names: tuple[AgentName, ...] = Field(
        (), description="The readable names of the agents that would appear or disappear."
    )


class InformativeTest(BaseModel):
    """A status the profile leaves unknown whose result would change the answer."""

    model_config = _OUTPUT

    status: str = Field(
        description="The profile field, e.g. pik3ca_status; prior_therapies or complications "
        "when they are not given (values then name a history, e.g. 'letrozole progressed', or "
        "a complication); for a treatment whose outcome is unknown, its path, e.g. "
        "prior_therapies.0.outcome."
    )
    agent: str | None = Field(
        default=None, description="For a treatment whose outcome is unknown: the drug's id."
    )
    outcomes: tuple[TestOutcome, ...] = Field(description="Only the values that change the answer.")
    citations: tuple[CitedSource, ...] = Field(
        description="The sources' advice to test the tumour or biopsy a metastasis."
    )


class EvaluationValues(BaseModel):
    """What the rulebase says for one profile: its values (``evaluation.Evaluation`` is this,
    showing itself).
    """

    model_config = _OUTPUT

    options: tuple[TreatmentOption, ...] = Field(description="Ranked, rank 1 first.")
    not_recommended: tuple[NotRecommendedItem, ...]
    advice: tuple[AdviceItem, ...]
    caveats: tuple[str, ...] = Field(
        description="What the reader should know about the reach of this answer."
    )
    fired_rules: tuple[str, ...] = Field(description="Ids of every rule that fired, in rule order.")
    rulebase_version: str
    rulebase_hash: str = Field(
        description="SHA-256 of every rule file of the rulebase (bundled files merged into it "
        "included) and of the package version."
    )
    profile: PatientProfile = Field(
        description="The profile as read: prior therapies hold the agent ids of the vocabulary "
        "that read it, and are read back as they stand."
    )
    disclaimer: str = DISCLAIMER
    names: Names = Field(
        default_factory=Names,
        description="The readable names of the drugs the result names and the rulebase's "
        "sources: what showing the result needs (it shows itself with no rulebase).",
    )
    digest: str = Field(
        "",
        description="SHA-256 over every other field, the rulebase hash among them, each "
        "written as compact JSON (see result_digest); Rulebase.verify checks it.",
    )

    @field_validator("profile", mode="wrap")
    @classmethod
    def _stored_profile(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> PatientProfile:
        # A result read back (from JSON, say) keeps its profile's agent ids as they were: they
        # are ids of the vocabulary that produced it, which may not be the bundled one.
        if isinstance(value, PatientProfile):
            value = value.model_dump()
        context = {**(info.context or {}), STORED: True}
        return PatientProfile.model_validate(value, context=context)

    def option(self, category: str) -> TreatmentOption | None:
        """The option of ``category``, or None when it is not offered."""
        return next((o for o in self.options if o.category == category), None)

    @property
    def categories(self) -> list[str]:
        """The offered categories, in rank order."""
        return [o.category for o in self.options]


_Model = TypeVar("_Model", bound=BaseModel)
_FIELD_NAMES: dict[type[BaseModel], frozenset[str]] = {}


def constructed(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """``model.model_construct(**fields)`` for values that are already valid, without its look
    at each field's aliases and default factories (a quarter of the cost) when ``fields``
    gives every field; otherwise ``model_construct`` itself. ``fields`` becomes the model's.
    """
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = frozenset(model.model_fields)
    if fields.keys() != names:
        return model.model_construct(**fields)
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", fields)
    object.__setattr__(instance, "__pydantic_fields_set__", set(fields))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


ANSWER_FIELDS = ("options", "not_recommended", "advice", "caveats", "fired_rules", "names")
_DIGEST_FORMAT = b"mbc-rules result digest 3"


# The digests read each part as pydantic-core writes it: compact JSON, unescaped text, every
# model's fields in the order the model declares them. The text is a function of the content
# alone (a result read back from JSON writes the same), and pydantic-core writes it some five
# times faster than building Python dicts and sorting their keys.
_ITEM_JSON: dict[type[BaseModel], SchemaSerializer] = {
    kind: TypeAdapter(kind).serializer for kind in (TreatmentOption, NotRecommendedItem, AdviceItem)
}
_TEXTS_JSON = TypeAdapter(tuple[str, ...]).serializer
_NAMES_JSON = TypeAdapter(Names).serializer
# Each answer item's hash, by the item's identity: the ranking shares the (immutable) option,
# not-recommended and advice objects between the answers it builds, so most items of a new
# answer were hashed before. An entry keeps its item alive, so an id is never reused while it
# is remembered; the memo is emptied when it grows past its bound.
_ITEM_HASH: dict[int, tuple[object, bytes]] = {}
# About 16 MB of entries at most; most items live on in the ranking's memory anyway.
_ITEM_HASH_BOUND = 65_536


def _item_hashes(items: Sequence[BaseModel], kind: type[BaseModel]) -> bytes:
    # The SHA-256 of each item's JSON, one after the other (32 bytes each).
    serializer = _ITEM_JSON[kind]
    hashes = []
    for item in items:
        found = _ITEM_HASH.get(id(item))
        if found is not None and found[0] is item:
            hashes.append(found[1])
            continue
        item_hash = hashlib.sha256(serializer.to_json(item, warnings=False)).digest()
        if type(item) is kind:  # exactly an answer item: immutable
            if len(_ITEM_HASH) >= _ITEM_HASH_BOUND:
                _ITEM_HASH.clear()
            _ITEM_HASH[id(item)] = (item, item_hash)
        hashes.append(item_hash)
    return b"".join(hashes)


# The names' JSON by the names' identity (a rulebase hands out the same Names for the same
# drugs, and each carries every source): kept, like the items' hashes, with the object.
_NAMES_JSON_MEMO: dict[int, tuple[object, bytes]] = {}
# Each entry holds a names' JSON (about 1.4 KB, every source in it): some 6 MB at most.
_NAMES_JSON_BOUND = 4096


_AGENT_JSON = AgentName.__pydantic_serializer__
_SOURCES_JSON = TypeAdapter(tuple[SourceName, ...]).serializer


def _part_json(part: Any, serializer: SchemaSerializer) -> bytes:
    found = _NAMES_JSON_MEMO.get(id(part))
    if found is not None and found[0] is part:
        return found[1]
    text: bytes = serializer.to_json(part, warnings=False)
    if len(_NAMES_JSON_MEMO) >= _NAMES_JSON_BOUND:
        _NAMES_JSON_MEMO.clear()
    _NAMES_JSON_MEMO[id(part)] = (part, text)
    return text


def _names_json(names: Names) -> bytes:
    found = _NAMES_JSON_MEMO.get(id(names))
    if found is not None and found[0] is names:
        return found[1]
    agents, sources = names.agents, names.sources
    if (
        type(names) is Names
        and type(agents) is tuple
        and type(sources) is tuple
        and all(type(a) is AgentName for a in agents)
        and all(type(s) is SourceName for s in sources)
    ):
        # What pydantic-core writes for Names, from the JSON of its parts: a rulebase's names
        # share their AgentName and sources objects, so most parts were written before.
        text = b"".join(
            (
                b'{"agents":[',
                b",".join([_part_json(a, _AGENT_JSON) for a in agents]),
                b'],"sources":',
                _part_json(sources, _SOURCES_JSON),
                b"}",
            )
        )
    else:
        text = _NAMES_JSON.to_json(names, warnings=False)
    if type(names) is Names:  # exactly Names: immutable
        if len(_NAMES_JSON_MEMO) >= _NAMES_JSON_BOUND:
            _NAMES_JSON_MEMO.clear()
        _NAMES_JSON_MEMO[id(names)] = (names, text)
    return text


def answer_digest(
    options: Sequence[TreatmentOption],
    not_recommended: Sequence[NotRecommendedItem],
    advice: Sequence[AdviceItem],
    caveats: Sequence[str],
    fired_rules: Sequence[str],
    names: Names,
) -> str:
    """SHA-256 of an answer's parts (the fields in ``ANSWER_FIELDS``).

    Each option, not-recommended and advice item is hashed on its own (its JSON), the texts
    of caveats and fired rules are written as JSON arrays, the names as JSON, and the six
    parts are framed by their lengths: an item shared by many answers is hashed once.
    """
    parts = (
        _item_hashes(options, TreatmentOption),
        _item_hashes(not_recommended, NotRecommendedItem),
        _item_hashes(advice, AdviceItem),
        _TEXTS_JSON.to_json(tuple(caveats), warnings=False),
        _TEXTS_JSON.to_json(tuple(fired_rules), warnings=False),
        _names_json(names),
    )
    return hashlib.sha256(b"".join(map(_framed, parts))).hexdigest()


def evaluation_digest(
    answer: str, profile: PatientProfile, rulebase_hash: str, rulebase_version: str, disclaimer: str
) -> str:
    """The digest of a result whose answer parts have the digest ``answer``.

    Each part is written as its length and its bytes (the profile as JSON), so that no text
    can move from one part to the next without changing the digest.
    """
    profile_json = PatientProfile.__pydantic_serializer__.to_json(profile, warnings=False)
    text = b"".join(
        (
            _framed_rulebase(rulebase_hash, rulebase_version, disclaimer),
            _framed(answer.encode()),
            _framed(profile_json),
        )
    )
    return hashlib.sha256(text).hexdigest()


def _framed(part: bytes) -> bytes:
    return b"%d:%b" % (len(part), part)


@functools.lru_cache(maxsize=64)
def _framed_rulebase(rulebase_hash: str, rulebase_version: str, disclaimer: str) -> bytes:
    # The same for every result of a rulebase: framed once.
    parts = (_DIGEST_FORMAT, rulebase_hash.encode(), rulebase_version.encode(), disclaimer.encode())
    return b"".join(map(_framed, parts))


def result_digest(evaluation: EvaluationValues) -> str:
    """What ``evaluation.digest`` must be for its content: computed from the content alone.

    The digest covers every field but itself: the answer parts (hashed together first, so a
    rulebase can keep the hash of each answer it ranks), the profile, the rulebase's hash and
    version and the disclaimer. It detects a change made to a stored result; it is not a
    signature (anyone may compute it), which is why ``Rulebase.verify`` also evaluates the
    profile again.
    """
    answer = answer_digest(*(getattr(evaluation, name) for name in ANSWER_FIELDS))
    return evaluation_digest(
        answer,
        evaluation.profile,
        evaluation.rulebase_hash,
        evaluation.rulebase_version,
        evaluation.disclaimer,
    )


class Verification(BaseModel):
    """Whether a stored result is what a rulebase gives for its profile, and if not, why."""

    model_config = _OUTPUT

    verified: bool = Field(description="True when every check below passed.")
    digest_intact: bool = Field(
        description="The stored digest matches the result's content (nothing edited since)."
    )
    same_rulebase: bool = Field(description="The result names this rulebase's content hash.")
    differences: tuple[str, ...] = Field(
        description="Each field where the stored result and this rulebase's answer differ, "
        "with both values."
    )

    def __str__(self) -> str:
        if self.verified:
            return "verified: this rulebase gives the stored answer, and the digest is intact"
        lines = []
        if not self.digest_intact:
            lines.append("the digest does not match the content: the result was edited")
        if not self.same_rulebase:
            lines.append("the result names another rulebase")
        lines.extend(self.differences)
        return "not verified:\n" + "\n".join(f"  {line}" for line in lines)

"""Stage 2, schema: typed, frozen models of what rule files hold.

A rule file is a mapping with any of four keys: ``sources``, ``vocabulary``, ``statements``
(the inventory of what the sources say, each with an id) and ``rules`` (which cite statement ids).
Checks that need no other rule (known facts and values, known agents, known source ids) run
here, inside pydantic validation, so their errors carry the path that the loader maps to a
line. Checks across rules (duplicate ids, examples) are the next stage's, in ``validate``.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mbc_rules.facts import FACTS, FactValue
from mbc_rules.vocabulary import TIER_WORDS, Category, Role, Tier, Vocabulary

# The models of a rule file validate rule files only: a process that loads the bundled rules
# already checked (``cache``) never validates one, so each model's validator is built when it
# is first used (``defer_build``), not at import.
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$", max_length=80)]


class Source(BaseModel):
    """A source document the rules cite."""

    model_config = _STRICT

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    publisher: str
    short_name: str | None = Field(
        None,
        max_length=20,
        description="The name one-line summaries use (e.g. 'ACS'); the id in capitals when "
        "not given.",
    )
    title: str
    document: str = Field(description="File name of the source text in the shared sources folder.")
    dates: dict[str, str] = Field(
        default_factory=dict, description="Dates the page gives, by kind."
    )
    note: str | None = None


def _known_source(source: str, info: ValidationInfo) -> str:
    known = _context(info).get("source_ids")
    if known is not None and source not in known:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(sorted(known))}")
    return source


SourceId = Annotated[str, AfterValidator(_known_source)]


StatementId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$", max_length=80)]


class Statement(BaseModel):
    """One statement of a source (a sentence or two, or a list item), with a stable id.

    The inventory of statements is the only place an excerpt is written; rules cite statements
    by id. Which rules encode a statement is derived from those citations, never written here.
    """

    model_config = _STRICT

    id: StatementId
    source: SourceId
    section: str
    excerpt: Annotated[str, Field(min_length=3, max_length=600)]
    topic: str | None = None
    population: Literal["women"] | None = Field(
        None,
        description="Set when the sentence speaks only of women; it then supports nothing for "
        "a male patient.",
    )
    no_rule: str | None = Field(
        None, description="Why no rule encodes the statement; a rule may not cite it then."
    )


class Citation(BaseModel):
    """A statement a rule cites, resolved from its id: a verbatim excerpt of a source."""

    model_config = _STRICT

    statement: StatementId
    source: str
    section: str
    excerpt: str
    population: Literal["women"] | None = None


def _resolve_statement(value: Any, info: ValidationInfo) -> Any:
    """A rule cites a statement by id; the inventory (in the validation context) gives its text."""
    if isinstance(value, Citation):
        return value
    if isinstance(value, dict):
        raise ValueError(
            "a citation is a statement id from the inventory (rules/statements.yaml); excerpts "
            "are written only there"
        )
    if not isinstance(value, str):
        raise ValueError(f"a citation is a statement id, not {type(value).__name__}")
    statements = _context(info).get("statements") or {}
    statement = statements.get(value)
    if statement is None:
        import difflib

        close = difflib.get_close_matches(value, list(statements), n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"unknown statement {value!r}{hint}")
    if statement.no_rule is not None:
        raise ValueError(
            f"statement {value!r} is marked no_rule in the inventory ({statement.no_rule!r}); "
            "remove that reason if this rule encodes it"
        )
    return Citation(
        statement=statement.id,
        source=statement.source,
        section=statement.section,
        excerpt=statement.excerpt,
        population=statement.population,
    )


CitationRef = Annotated[Citation, BeforeValidator(_resolve_statement)]


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def _check_agents(agents: list[str], info: ValidationInfo) -> list[str]:
    vocabulary = _context(info).get("vocabulary")
    if not isinstance(vocabulary, Vocabulary):
        return agents
    for agent in agents:
        if agent not in vocabulary:
            hint = vocabulary.suggest(agent)
            did_you_mean = f" (did you mean {', '.join(repr(h) for h in hint)}?)" if hint else ""
            raise ValueError(f"unknown agent {agent!r}{did_you_mean}")
        if not vocabulary[agent].in_sources:
            raise ValueError(f"agent {agent!r} is not named in any source; options may not name it")
    return agents


AgentIds = Annotated[list[str], AfterValidator(_check_agents)]


# --- conditions -------------------------------------------------------------------------------


class FactTest(BaseModel):
    """A test of one derived fact: exactly one operator."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, defer_build=True
    )

    fact: str
    equals: FactValue | None = None
    not_equals: FactValue | None = None
    in_: list[FactValue] | None = Field(None, alias="in", min_length=1)
    not_in: list[FactValue] | None = Field(None, min_length=1)
    at_least: int | None = None
    at_most: int | None = None

    # Operator and operand are found once (cached): conditions are read on the hot path of
    # every evaluation on the plain-Python engine.
    @functools.cached_property
    def operator(self) -> str:
        """The operator's name as rule files write it (``in``, not ``in_``)."""
        for name in ("equals", "not_equals", "in_", "not_in", "at_least", "at_most"):
            if getattr(self, name) is not None:
                return name.rstrip("_")
        raise AssertionError("validated FactTest has an operator")  # pragma: no cover

    @functools.cached_property
    def operand(self) -> Any:
        """The value (or list of values) the fact is tested against."""
        return getattr(self, "in_" if self.operator == "in" else self.operator)

    @model_validator(mode="after")
    def _one_known_operator(self) -> FactTest:
        given = [
            name
            for name in ("equals", "not_equals", "in_", "not_in", "at_least", "at_most")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "a fact test takes exactly one of equals, not_equals, in, not_in, at_least, "
                f"at_most; got {len(given)}"
            )
        definition = FACTS.get(self.fact)
        if definition is None:
            raise ValueError(f"unknown fact {self.fact!r}{definition_hint(self.fact)}")
        operand = self.operand
        if self.operator in ("at_least", "at_most"):
            if definition.kind != "count":
                raise ValueError(f"{self.operator} needs a count fact; {self.fact} is not one")
            return self
        for value in operand if isinstance(operand, list) else [operand]:
            definition.check_value(value)
        return self


def _only_true(value: Any) -> Literal[True]:
    if value is not True:
        import json

        plain = value is None or isinstance(value, bool | int | float | str)
        shown = json.dumps(value) if plain else repr(value)
        raise ValueError(f"always takes only true, not {shown}")
    return True


def _has_word(text: str, word: str) -> bool:
    import re

    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text.casefold()) is not None


def definition_hint(name: str) -> str:
    """' (did you mean ...?)' with the fact names closest to ``name``, or ''."""
    import difflib

    close = difflib.get_close_matches(name, list(FACTS), n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


class Always(BaseModel):
    """Holds for every patient: the condition of guidance that is for everyone.

    It takes only ``true``: a rule for no one is no rule, and a value that merely reads as
    true (``1``, ``"yes"``) is more likely a slip than a meaning.
    """

    model_config = _STRICT
    always: Annotated[Literal[True], BeforeValidator(_only_true)]


class AllOf(BaseModel):
    """Holds when every one of its conditions holds."""

    model_config = _STRICT
    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(BaseModel):
    """Holds when at least one of its conditions holds."""

    model_config = _STRICT
    any: Annotated[list[Condition], Field(min_length=1)]


class NotOf(BaseModel):
    """Holds when its condition does not."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, defer_build=True
    )
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        kinds = {AllOf: "all", AnyOf: "any", NotOf: "not", FactTest: "fact", Always: "always"}
        return kinds.get(type(value))
    if isinstance(value, dict):
        for key in ("all", "any", "not", "fact", "always"):
            if key in value:
                return key
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[FactTest, Tag("fact")]
    | Annotated[Always, Tag("always")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message="a condition is a mapping with one of: all, any, not, fact, always",
    ),
]

# AllOf, AnyOf and NotOf name ``Condition`` before it is defined: built on first use (deferred),
# they find it here.


def nested_always(condition: Condition, path: str = "when") -> str | None:
    """Where ``always`` stands inside ``condition`` rather than as the whole of it, or None.

    The language gives ``always`` a meaning anywhere (the engines agree on it under ``not``
    too), but a rule file may write it only as a rule's whole ``when``: inside ``all`` it
    says nothing, inside ``any`` it swallows the other parts, and under ``not`` it makes a
    rule that never fires. Each is a slip rather than guidance.
    """
    if isinstance(condition, NotOf):
        inner = condition.not_
        return f"{path}.not" if isinstance(inner, Always) else nested_always(inner, f"{path}.not")
    if isinstance(condition, AllOf | AnyOf):
        word = "all" if isinstance(condition, AllOf) else "any"
        parts = condition.all if isinstance(condition, AllOf) else condition.any
        for index, part in enumerate(parts):
            where = f"{path}.{word}[{index}]"
            found = where if isinstance(part, Always) else nested_always(part, where)
            if found is not None:
                return found
    return None


# --- what a rule yields -----------------------------------------------------------------------


class Regimen(BaseModel):
    """Agents given together; the regimen sits in the category of the drug that defines it."""

    model_config = _STRICT

    agents: Annotated[AgentIds, Field(min_length=2)]
    note: str | None = None
    continues: list[str] = Field(
        default_factory=list,
        description="Agents of this regimen that the cited sentence continues after the "
        "cancer grew on them (ACS: 'Pertuzumab (Perjeta) with chemo and trastuzumab' for "
        "cancers progressing on HER2 drugs). Any other agent the cancer grew on removes the "
        "regimen.",
    )

    only_beside: Category | None = Field(
        None,
        description="The regimen stands only where an option of this category is itself "
        "offered for the patient (WebMD: any targeted drug may be taken 'along with "
        "chemotherapy', which offers the targeted drug beside chemotherapy, not chemotherapy). "
        "Without it a regimen stands on its own sentence ('trastuzumab ... given along with "
        "chemo').",
    )

    @model_validator(mode="after")
    def _continues_members(self) -> Regimen:
        strangers = [a for a in self.continues if a not in self.agents]
        if strangers:
            raise ValueError(f"continues names {', '.join(strangers)}, not in the regimen")
        return self


class Offer(BaseModel):
    """A treatment option in one category."""

    model_config = _STRICT

    category: Category
    tier: Tier
    agents: AgentIds = Field(default_factory=list)
    regimens: list[Regimen] = Field(default_factory=list)
    switch_from: list[str] = Field(
        default_factory=list,
        description="Drugs or classes (vocabulary ids) after which the cited sentence names "
        "this offer as the next step (ACS: 'Progression while being treated with HER2 drugs' "
        "... 'Ado-trastuzumab emtansine (Kadcyla)'). A drug or class of the offer stays "
        "offered after the cancer grew on another drug of its class only when that drug is "
        "one of these, or lies within one of these classes.",
    )
    role: Role | None = Field(
        None,
        description="supportive where the cited sentences give the offer to relieve pain or "
        "symptoms, or to prevent fractures, rather than against the cancer (PDQ: 'Radiation "
        "therapy ... to relieve symptoms and improve quality of life'); the category's role "
        "when not given. An option is shown as given alongside the choices only when every "
        "offer of it is supportive.",
    )
    only_when_none_left: Category | None = Field(
        None,
        description="The offer stands only when no option of this category is left for the "
        "patient (ACS: 'If the cancer is no longer responding to any hormone drugs, chemotherapy "
        "is usually the next step').",
    )

    @model_validator(mode="after")
    def _agents_in_category(self, info: ValidationInfo) -> Offer:
        vocabulary = _context(info).get("vocabulary")
        if not isinstance(vocabulary, Vocabulary):
            return self
        for agent in self.switch_from:
            if agent not in vocabulary:
                hint = vocabulary.suggest(agent)
                did_you_mean = f" (did you mean {', '.join(map(repr, hint))}?)" if hint else ""
                raise ValueError(f"switch_from names unknown agent {agent!r}{did_you_mean}")
        for agent in self.agents:
            if agent in vocabulary and vocabulary[agent].category != self.category:
                raise ValueError(
                    f"agent {agent!r} belongs to {vocabulary[agent].category}, "
                    f"not to {self.category}"
                )
        for regimen in self.regimens:
            categories = {vocabulary[a].category for a in regimen.agents if a in vocabulary}
            if regimen.only_beside is not None and regimen.only_beside not in categories - {
                self.category
            }:
                raise ValueError(
                    f"only_beside names {regimen.only_beside}, which no agent of the regimen "
                    f"{regimen.agents} belongs to (beside {self.category})"
                )
            if self.category not in categories:
                raise ValueError(
                    f"regimen {' + '.join(regimen.agents)} has no agent of {self.category}"
                )
        return self


LOCAL_PREFIX = "local-"
"""The id prefix of every local rule (``Rulebase.with_local``): how an answer tells them apart."""

StatementKind = Literal["advised_against", "not_available_here"]


def is_local(rule_id: str) -> bool:
    """Whether ``rule_id`` is a local rule's (it starts with :data:`LOCAL_PREFIX`)."""
    return rule_id.startswith(LOCAL_PREFIX)


class NotRecommended(BaseModel):
    """A statement that a whole category, or named agents, should not be used."""

    model_config = _STRICT

    category: Category | None = None
    agents: AgentIds = Field(default_factory=list)
    reason: str
    kind: StatementKind = Field(
        "advised_against",
        description="advised_against: a source says not to use it; not_available_here: a "
        "local rule (its id starts with 'local-') says the drug is not available at this "
        "institution, with the reason. The answer keeps the two apart.",
    )

    @model_validator(mode="after")
    def _names_something(self) -> NotRecommended:
        if (self.category is None) == (not self.agents):
            raise ValueError("not_recommended names either a category or agents, not both")
        return self


class Advice(BaseModel):
    """Guidance that is not a treatment option (a treatment break, a biopsy, a caution)."""

    model_config = _STRICT

    topic: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    text: str


class Outcome(BaseModel):
    """What a rule yields when it fires: exactly one of offer, not_recommended, advice."""

    model_config = _STRICT

    offer: Offer | None = None
    not_recommended: NotRecommended | None = None
    advice: Advice | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Outcome:
        given = [x for x in (self.offer, self.not_recommended, self.advice) if x is not None]
        if len(given) != 1:
            raise ValueError("then takes exactly one of offer, not_recommended, advice")
        return self


class Example(BaseModel):
    """A profile and whether the rule fires for it; the test suite runs every one."""

    model_config = _STRICT

    profile: dict[str, Any]
    fires: bool
    note: str | None = None


class Rule(BaseModel):
    """One piece of guidance: when the conditions hold, what follows, and who says so."""

    model_config = _STRICT

    id: RuleId
    title: str = Field(description="The guidance in one line, in the sources' terms.")
    when: Condition
    then: Outcome
    citations: Annotated[list[CitationRef], Field(min_length=1)]
    examples: Annotated[list[Example], Field(min_length=1)]
    tier_word: str | None = Field(
        None,
        description="The word of a cited excerpt that sets the offer's tier ('first', 'may', "
        "'sometimes'); it must stand in one of the excerpts and belong to the tier's list.",
    )

    situational_because: str | None = Field(
        None,
        description="Why an offer is situational when no word of its excerpts says so: the "
        "sources are vague about whom it is for, or another source names it only later "
        "(docs/sources.md). Only for situational offers.",
    )

    @field_validator("when")
    @classmethod
    def _always_only_whole(cls, when: Condition) -> Condition:
        where = nested_always(when)
        if where is not None:
            raise ValueError(
                f"always stands only as a rule's whole condition (when: {{always: true}}), "
                f"not at {where}: inside all it says nothing, inside any it makes the whole "
                "condition hold, and under not the rule never fires"
            )
        return when

    @model_validator(mode="after")
    def _tier_word_in_excerpt_and_tier(self) -> Rule:
        offer = self.then.offer
        if self.situational_because is not None and (offer is None or offer.tier != "situational"):
            raise ValueError("situational_because is only for situational offers")
        statement = self.then.not_recommended
        local = is_local(self.id)
        if statement is not None and statement.kind == "not_available_here" and not local:
            raise ValueError(
                "kind not_available_here is for local rules (Rulebase.with_local), whose "
                f"id starts with {LOCAL_PREFIX!r}: the published sources do not say what an "
                "institution stocks"
            )
        if self.tier_word is None:
            return self
        if offer is None:
            raise ValueError("tier_word is for rules that offer; this rule does not")
        word = self.tier_word.casefold()
        if word not in TIER_WORDS[offer.tier]:
            raise ValueError(
                f"tier_word {self.tier_word!r} does not set tier {offer.tier!r}; its words are: "
                f"{', '.join(TIER_WORDS[offer.tier])} (docs/ranking.md)"
            )
        if not any(_has_word(c.excerpt, word) for c in self.citations):
            raise ValueError(f"tier_word {self.tier_word!r} is in none of the rule's excerpts")
        return self

    @property
    def source_ids(self) -> tuple[str, ...]:
        """The ids of the sources the rule cites, sorted."""
        return tuple(sorted({c.source for c in self.citations}))


class CoverageEntry(Statement):
    """A statement of the inventory with the rules that cite it (derived, not written)."""

    rules: tuple[str, ...] = ()


SECTION_KEYS = ("sources", "drug_classes", "vocabulary", "statements", "rules")


class RuleFile(BaseModel):
    """The top level of a rule file (its sections are validated one item at a time)."""

    model_config = _STRICT

    sources: list[dict[str, Any]] = Field(default_factory=list)
    drug_classes: list[dict[str, Any]] = Field(default_factory=list)
    vocabulary: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    statements: list[dict[str, Any]] = Field(default_factory=list)
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z.+-]+$")] | None = None

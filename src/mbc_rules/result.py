"""The result of an evaluation: ranked, cited treatment options and what is not recommended.

These models are the public contract of the output (they serialise to JSON and back
unchanged, and their JSON Schema is published for applications in other languages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from mbc_rules.profile import PatientProfile
from mbc_rules.vocabulary import Category, Tier

if TYPE_CHECKING:
    from mbc_rules.explain import Explanation

DISCLAIMER = (
    "Decision support that cites its sources, not medical advice: every option is traced to "
    "published patient-facing guidance and must be weighed by the treating clinician."
)

_OUTPUT = ConfigDict(extra="forbid", frozen=True)


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


class RegimenOption(BaseModel):
    """Agents given together."""

    model_config = _OUTPUT

    agents: list[str]
    name: str = Field(description="The regimen in words, e.g. 'alpelisib with fulvestrant'.")


class TreatmentOption(BaseModel):
    """One treatment category offered for the profile, with its rank and its support."""

    model_config = _OUTPUT

    rank: int = Field(ge=1, description="1 is first; options that tie share a rank.")
    category: Category
    tier: Tier = Field(description="preferred, option or situational, from the sources' words.")
    agents: list[str] = Field(
        description="The drugs or procedures of this category: single agents first, then the "
        "regimen members that belong to the category."
    )
    regimens: list[RegimenOption]
    rationale: list[str] = Field(description="One line per rule that offers this option.")
    citations: list[CitedSource]
    rule_ids: list[str]
    source_ids: list[str]


class NotRecommendedItem(BaseModel):
    """A category or agents that the sources say not to use for this profile."""

    model_config = _OUTPUT

    category: Category | None
    agents: list[str]
    reason: str
    citations: list[CitedSource]
    rule_ids: list[str]


class AdviceItem(BaseModel):
    """Guidance that is not a treatment option: a treatment break, a biopsy, a caution."""

    model_config = _OUTPUT

    topic: str
    text: str
    citations: list[CitedSource]
    rule_ids: list[str]


class RankChange(BaseModel):
    """An option that stays but moves."""

    model_config = _OUTPUT

    category: Category
    rank_now: int
    rank_then: int


class TestOutcome(BaseModel):
    """How the answer would change if an unknown status had this value."""

    model_config = _OUTPUT

    value: str
    options_appear: list[Category]
    options_disappear: list[Category]
    rank_changes: list[RankChange]
    agents_appear: list[str]
    agents_disappear: list[str]


class InformativeTest(BaseModel):
    """A status the profile leaves unknown whose result would change the answer."""

    model_config = _OUTPUT

    status: str = Field(description="The profile field, e.g. pik3ca_status.")
    outcomes: list[TestOutcome] = Field(description="Only the values that change the answer.")
    citations: list[CitedSource] = Field(
        description="The sources' advice to test the tumour or biopsy a metastasis."
    )


class Evaluation(BaseModel):
    """What the rulebase says for one profile."""

    model_config = _OUTPUT

    options: list[TreatmentOption] = Field(description="Ranked, rank 1 first.")
    not_recommended: list[NotRecommendedItem]
    advice: list[AdviceItem]
    caveats: list[str] = Field(
        description="What the reader should know about the reach of this answer."
    )
    fired_rules: list[str] = Field(description="Ids of every rule that fired, in rule order.")
    rulebase_version: str
    rulebase_hash: str = Field(description="SHA-256 of the rule files' content.")
    profile: PatientProfile = Field(description="The profile as read.")
    disclaimer: str = DISCLAIMER

    # The rulebase that produced this result, for explanations; not part of the JSON.
    _rulebase: Any = PrivateAttr(default=None)
    _informative: list[InformativeTest] | None = PrivateAttr(default=None)

    @property
    def informative_tests(self) -> list[InformativeTest]:
        """For each status left unknown, the values that would change the answer.

        Computed on first use (each possible value is evaluated), then kept. ``options`` only
        ever holds what the profile supports now; what waits on a test is listed here.
        """
        if self._informative is None:
            self._informative = self._source_rulebase().informative_tests(self)
        return self._informative

    def _source_rulebase(self) -> Any:
        from mbc_rules.rulebase import Rulebase

        rulebase = self._rulebase
        if rulebase is None:
            rulebase = Rulebase.bundled()
            if rulebase.content_hash != self.rulebase_hash:
                from mbc_rules.errors import MbcRulesError

                raise MbcRulesError(
                    "this result came from another rulebase; use that rulebase's explain()"
                )
        return rulebase

    def explain(self, subject: str) -> Explanation:
        """Why ``subject`` (a category, or a drug or procedure by any name) is or is not offered.

        ``str(explanation)`` reads as text; the model holds the same in structured form.

        Raises:
            UnknownAgentError: ``subject`` is neither a category nor a known agent.
            MbcRulesError: the result was read back from JSON and the bundled rulebase is not
                the one that produced it.
        """
        explanation: Explanation = self._source_rulebase().explain(self, subject)
        return explanation

    def _repr_html_(self) -> str:
        from mbc_rules.display import evaluation_html

        return evaluation_html(self)

    def __eq__(self, other: object) -> bool:
        # Equal results say the same thing; the cached rulebase and tests are not content.
        if not isinstance(other, Evaluation):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def option(self, category: str) -> TreatmentOption | None:
        """The option of ``category``, or None when it is not offered."""
        return next((o for o in self.options if o.category == category), None)

    @property
    def categories(self) -> list[str]:
        """The offered categories, in rank order."""
        return [o.category for o in self.options]

"""The result as a program holds it: the values of ``result.EvaluationValues``, showing
themselves.

``print(result)`` is the text report, ``result.to_markdown()`` the Markdown page and a bare
``result`` in a notebook the rich view: each a function of the result alone (it carries the
readable names it needs), so a result read back from JSON shows the same. The views
(``report``, ``display``) read the values below this module and never import it: the data
flows one way, values -> views -> the value that shows itself.
"""

from __future__ import annotations

from pydantic import Field

from mbc_rules.profile import PatientProfile
from mbc_rules.result import (
    AdviceItem,
    EvaluationValues,
    InformativeTest,
    Names,
    NotRecommendedItem,
    TreatmentOption,
    constructed,
)

__all__ = ["Evaluation", "EvaluationReport", "assembled"]


class Evaluation(EvaluationValues):
    """What the rulebase says for one profile, showing itself."""

    # The views are imported when first shown, so that evaluating never pays for them.
    def __str__(self) -> str:
        """The text report: what ``mbc-rules evaluate`` and ``mbc_rules.report`` print."""
        from mbc_rules.report import evaluation_text

        return evaluation_text(self)

    def to_markdown(self) -> str:
        """The answer as a Markdown page a clinician can paste into a note."""
        from mbc_rules.report import evaluation_markdown

        return evaluation_markdown(self)

    def _repr_html_(self) -> str:
        from mbc_rules.display import evaluation_html

        return evaluation_html(self)


class EvaluationReport(Evaluation):
    """An evaluation with the tests that would change it: what ``mbc-rules evaluate --json``
    prints (its schema: ``mbc-rules schema report``).
    """

    informative_tests: tuple[InformativeTest, ...] = Field(
        description="For each status (or treatment outcome) left unknown, what each result "
        "would add, remove and move up or down; empty when nothing unknown would change it."
    )

    @classmethod
    def of(
        cls, evaluation: EvaluationValues, tests: tuple[InformativeTest, ...]
    ) -> EvaluationReport:
        """``evaluation`` with ``tests`` (both already validated: nothing is checked again)."""
        fields = {name: getattr(evaluation, name) for name in EvaluationValues.model_fields}
        return cls.model_construct(**fields, informative_tests=tests)


def assembled(
    *,
    options: tuple[TreatmentOption, ...],
    not_recommended: tuple[NotRecommendedItem, ...],
    advice: tuple[AdviceItem, ...],
    caveats: tuple[str, ...],
    fired_rules: tuple[str, ...],
    rulebase_version: str,
    rulebase_hash: str,
    profile: PatientProfile,
    disclaimer: str,
    names: Names,
    digest: str,
) -> Evaluation:
    """The evaluation of parts that are already valid: ``Evaluation.model_construct`` with
    every field given, without its look at each field's aliases and defaults (which cost a
    tenth of a whole evaluation).
    """
    return constructed(
        Evaluation,
        {
            "options": options,
            "not_recommended": not_recommended,
            "advice": advice,
            "caveats": caveats,
            "fired_rules": fired_rules,
            "rulebase_version": rulebase_version,
            "rulebase_hash": rulebase_hash,
            "profile": profile,
            "disclaimer": disclaimer,
            "names": names,
            "digest": digest,
        },
    )

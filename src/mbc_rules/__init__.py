"""mbc-rules: computable, cited rules for treating metastatic (stage IV) breast cancer.

Decision support that cites its sources, not medical advice.

>>> import mbc_rules
>>> result = mbc_rules.evaluate({"er_status": "positive", "her2_status": "negative"})
>>> result.options[0].category
'hormone_therapy'
"""

from __future__ import annotations

import sys

from mbc_rules._version import __version__

# ``typing``, ``collections`` and ``importlib`` are not imported at run time: ``import
# mbc_rules`` then costs next to nothing. Type checkers take any ``TYPE_CHECKING`` as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from mbc_rules.cohort import (
        CohortResult,
        ConcordanceResult,
        FrameResult,
        RuleDiff,
        evaluate_frame,
        evaluate_many,
    )

    # From their modules: the package's name for each is also a submodule's.
    from mbc_rules.cohort.concordance import concordance
    from mbc_rules.cohort.diff import diff
    from mbc_rules.display import Html
    from mbc_rules.errors import (
        EngineError,
        FhirReadError,
        MbcRulesError,
        Problem,
        RulebaseError,
        UnknownAgentError,
    )
    from mbc_rules.evaluation import Evaluation, EvaluationReport
    from mbc_rules.explain import Explanation
    from mbc_rules.fhir import FhirReading, read_fhir, read_fhir_many
    from mbc_rules.profile import PatientProfile, PriorTherapy
    from mbc_rules.report import ReportFormat
    from mbc_rules.result import (
        AdviceItem,
        CitedSource,
        InformativeTest,
        NotRecommendedItem,
        RegimenOption,
        TreatmentOption,
        Verification,
    )
    from mbc_rules.rulebase import Rulebase

# Where each public name lives. ``import mbc_rules`` imports none of these modules: each is
# imported when one of its names is first used (PEP 562), so a program that only evaluates
# never pays for the FHIR reader, the cohort frames (pandas), the reports or the notebook
# view, and one that only reads FHIR never builds the rulebase. ``from mbc_rules import X``,
# ``mbc_rules.X`` and ``dir(mbc_rules)`` behave as before.
_LAZY = {
    "AdviceItem": "mbc_rules.result",
    "CitedSource": "mbc_rules.result",
    "CohortResult": "mbc_rules.cohort",
    "ConcordanceResult": "mbc_rules.cohort",
    "EngineError": "mbc_rules.errors",
    "Evaluation": "mbc_rules.evaluation",
    "EvaluationReport": "mbc_rules.evaluation",
    "Explanation": "mbc_rules.explain",
    "FhirReadError": "mbc_rules.errors",
    "FhirReading": "mbc_rules.fhir",
    "FrameResult": "mbc_rules.cohort",
    "Html": "mbc_rules.display",
    "InformativeTest": "mbc_rules.result",
    "MbcRulesError": "mbc_rules.errors",
    "NotRecommendedItem": "mbc_rules.result",
    "PatientProfile": "mbc_rules.profile",
    "PriorTherapy": "mbc_rules.profile",
    "Problem": "mbc_rules.errors",
    "RegimenOption": "mbc_rules.result",
    "RuleDiff": "mbc_rules.cohort",
    "Rulebase": "mbc_rules.rulebase",
    "RulebaseError": "mbc_rules.errors",
    "TreatmentOption": "mbc_rules.result",
    "UnknownAgentError": "mbc_rules.errors",
    "Verification": "mbc_rules.result",
    "concordance": "mbc_rules.cohort",
    "diff": "mbc_rules.cohort",
    "evaluate_frame": "mbc_rules.cohort",
    "evaluate_many": "mbc_rules.cohort",
    "read_fhir": "mbc_rules.fhir",
    "read_fhir_many": "mbc_rules.fhir",
}


if not TYPE_CHECKING:
    # Hidden from type checkers, which see the imports above: a misspelt name stays an error
    # for them rather than an ``Any``.
    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'mbc_rules' has no attribute {name!r}")
        __import__(module)
        value = getattr(sys.modules[module], name)
        globals()[name] = value  # the next look-up is an ordinary one
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(type(sys)):  # type: ignore[misc]  # types.ModuleType
    """The package, whose functions ``explain`` and ``report`` share their modules' names.

    Importing a submodule sets it as an attribute of its package; imported eagerly, the
    functions defined after the imports won. Imported lazily, a later ``import
    mbc_rules.explain`` (by the rulebase, say) would replace the function with the module, so
    the functions keep their names here; the modules stay in ``sys.modules``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS and isinstance(value, type(sys)):
            return
        super().__setattr__(name, value)


__all__ = [
    "AdviceItem",
    "CitedSource",
    "CohortResult",
    "ConcordanceResult",
    "EngineError",
    "Evaluation",
    "EvaluationReport",
    "Explanation",
    "FhirReadError",
    "FhirReading",
    "FrameResult",
    "Html",
    "InformativeTest",
    "MbcRulesError",
    "NotRecommendedItem",
    "PatientProfile",
    "PriorTherapy",
    "Problem",
    "RegimenOption",
    "RuleDiff",
    "Rulebase",
    "RulebaseError",
    "TreatmentOption",
    "UnknownAgentError",
    "Verification",
    "__version__",
    "concordance",
    "diff",
    "evaluate",
    "evaluate_frame",
    "evaluate_many",
    "explain",
    "informative_tests",
    "read_fhir",
    "read_fhir_many",
    "report",
    "show",
]


def evaluate(
    profile: PatientProfile | Mapping[str, Any], *, informative_tests: bool = True
) -> Evaluation:
    """Evaluate one profile with the bundled rulebase.

    Args:
        profile: a :class:`PatientProfile` or a mapping of its fields.
        informative_tests: also work out what each unknown status would change (the
            default here, for one patient; ``Rulebase.evaluate`` leaves them out unless
            asked, for programs and cohorts).

    Returns:
        Ranked, cited treatment options, what is not recommended and why, the trace and (by
        default, as an :class:`EvaluationReport`) the tests that would change the answer. It
        shows itself: ``print`` it for the text report, or leave it last in a notebook cell
        for the rich view.

    Raises:
        pydantic.ValidationError: the profile is invalid; the error names the field.
    """
    from mbc_rules.rulebase import Rulebase

    return Rulebase.bundled().evaluate(profile, informative_tests=informative_tests)


def explain(result: Evaluation, subject: str, rulebase: Rulebase | None = None) -> Explanation:
    """Why ``subject`` (a category, or a drug by any name) is or is not among ``result``'s options.

    Args:
        result: an evaluation (also one read back from JSON).
        subject: a category, or a drug or procedure by id, generic, brand or alias name.
        rulebase: the rulebase that produced ``result``; the bundled one when omitted.

    Raises:
        UnknownAgentError: ``subject`` is neither a category nor a known agent.
        MbcRulesError: ``result`` came from another rulebase than ``rulebase``.
    """
    from mbc_rules.rulebase import Rulebase

    return (rulebase or Rulebase.bundled()).explain(result, subject)


def informative_tests(
    result: Evaluation, rulebase: Rulebase | None = None
) -> tuple[InformativeTest, ...]:
    """For each status ``result``'s profile leaves unknown, the values that change the answer.

    Args:
        result: an evaluation (also one read back from JSON).
        rulebase: the rulebase that produced ``result``; the bundled one when omitted.

    Raises:
        MbcRulesError: ``result`` came from another rulebase than ``rulebase``.
    """
    from mbc_rules.rulebase import Rulebase

    return (rulebase or Rulebase.bundled()).informative_tests(result)


def show(result: Evaluation, rulebase: Rulebase | None = None) -> Html:
    """``result`` for a notebook: the view a bare result shows (``result._repr_html_()``).

    Raises:
        MbcRulesError: ``result`` came from another rulebase than ``rulebase``.
    """
    from mbc_rules.display import Html
    from mbc_rules.rulebase import Rulebase

    return Html((rulebase or Rulebase.bundled()).html(result))


def report(
    result: Evaluation, rulebase: Rulebase | None = None, format: ReportFormat = "text"
) -> str:
    """``result`` for a person: ``text`` (``str(result)``, the table ``mbc-rules evaluate``
    prints) or ``markdown`` (``result.to_markdown()``, a page to paste into a note). The tests
    that would change the answer are in it when the result carries them.

    Raises:
        MbcRulesError: ``result`` came from another rulebase than ``rulebase``.
    """
    from mbc_rules.rulebase import Rulebase

    return (rulebase or Rulebase.bundled()).report(result, format)


_FUNCTIONS = frozenset({"evaluate", "explain", "informative_tests", "report", "show"})
sys.modules[__name__].__class__ = _Package

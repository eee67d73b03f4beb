"""mbc-rules: computable, cited rules for treating metastatic (stage IV) breast cancer.

Decision support that cites its sources, not medical advice.

>>> import mbc_rules
>>> result = mbc_rules.evaluate({"er_status": "positive", "her2_status": "negative"})
>>> result.options[0].category
'hormone_therapy'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mbc_rules._version import __version__
from mbc_rules.cohort import CohortResult, FrameResult, evaluate_frame, evaluate_many
from mbc_rules.display import Html
from mbc_rules.errors import (
    EngineError,
    FhirReadError,
    MbcRulesError,
    Problem,
    RulebaseError,
    UnknownAgentError,
)
from mbc_rules.explain import Explanation
from mbc_rules.fhir import FhirReading, read_fhir, read_fhir_many
from mbc_rules.profile import PatientProfile, PriorTherapy
from mbc_rules.report import ReportFormat
from mbc_rules.result import (
    AdviceItem,
    CitedSource,
    Evaluation,
    InformativeTest,
    NotRecommendedItem,
    RegimenOption,
    TreatmentOption,
    Verification,
)
from mbc_rules.rulebase import Rulebase

__all__ = [
    "AdviceItem",
    "CitedSource",
    "CohortResult",
    "EngineError",
    "Evaluation",
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
    "Rulebase",
    "RulebaseError",
    "TreatmentOption",
    "UnknownAgentError",
    "Verification",
    "__version__",
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


def evaluate(profile: PatientProfile | Mapping[str, Any]) -> Evaluation:
    """Evaluate one profile with the bundled rulebase.

    Args:
        profile: a :class:`PatientProfile` or a mapping of its fields.

    Returns:
        Ranked, cited treatment options, what is not recommended and why, and the trace.

    Raises:
        pydantic.ValidationError: the profile is invalid; the error names the field.
    """
    return Rulebase.bundled().evaluate(profile)


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
    return (rulebase or Rulebase.bundled()).informative_tests(result)


def show(result: Evaluation, rulebase: Rulebase | None = None) -> Html:
    """``result`` for a notebook: a ranked table with citations and informative tests.

    Raises:
        MbcRulesError: ``result`` came from another rulebase than ``rulebase``.
    """
    return Html((rulebase or Rulebase.bundled()).html(result))


def report(
    result: Evaluation, rulebase: Rulebase | None = None, format: ReportFormat = "text"
) -> str:
    """``result`` for a person: ``text`` (the table ``mbc-rules evaluate`` prints) or
    ``markdown`` (a page to paste into a note), with the patient, the tests that would change
    the answer, what is not recommended and the advice.

    Raises:
        MbcRulesError: ``result`` came from another rulebase than ``rulebase``.
    """
    return (rulebase or Rulebase.bundled()).report(result, format)

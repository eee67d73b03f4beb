"""The public surface is small and guarded."""

from __future__ import annotations

import mbc_rules

EXPECTED = {
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
    "show",
    "report",
    "read_fhir",
    "read_fhir_many",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(mbc_rules.__all__) == EXPECTED
    for name in mbc_rules.__all__:
        assert hasattr(mbc_rules, name), name


def test_every_error_shares_one_root() -> None:
    for name in ("EngineError", "RulebaseError", "UnknownAgentError", "FhirReadError"):
        assert issubclass(getattr(mbc_rules, name), mbc_rules.MbcRulesError)

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
from mbc_rules.errors import (
    EngineError,
    FhirReadError,
    MbcRulesError,
    Problem,
    RulebaseError,
    UnknownAgentError,
)
from mbc_rules.fhir import FhirReading, read_fhir, read_fhir_many
from mbc_rules.profile import PatientProfile, PriorTherapy, set_default_vocabulary
from mbc_rules.result import (
    AdviceItem,
    CitedSource,
    Evaluation,
    NotRecommendedItem,
    RegimenOption,
    TreatmentOption,
)
from mbc_rules.rulebase import Rulebase, bundled_vocabulary

set_default_vocabulary(bundled_vocabulary)

__all__ = [
    "AdviceItem",
    "CitedSource",
    "CohortResult",
    "EngineError",
    "Evaluation",
    "FhirReadError",
    "FhirReading",
    "FrameResult",
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
    "__version__",
    "evaluate",
    "evaluate_frame",
    "evaluate_many",
    "read_fhir",
    "read_fhir_many",
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

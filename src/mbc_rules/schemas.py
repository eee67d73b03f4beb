"""JSON Schemas of the public contract, for applications in other languages."""

from __future__ import annotations

from typing import Any, Literal

from mbc_rules.evaluation import Evaluation, EvaluationReport
from mbc_rules.profile import PatientProfile

SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"


def json_schema(which: Literal["profile", "result", "report"]) -> dict[str, Any]:
    """The JSON Schema of the patient profile (input), of the evaluation (output), or of the
    report (the evaluation with its informative tests, as ``mbc-rules evaluate --json``).

    Raises:
        ValueError: ``which`` is neither ``profile`` nor ``result``.
    """
    if which == "profile":
        schema = PatientProfile.model_json_schema(mode="validation")
    elif which == "result":
        schema = Evaluation.model_json_schema(mode="serialization")
    elif which == "report":
        schema = EvaluationReport.model_json_schema(mode="serialization")
    else:
        raise ValueError(f"no schema named {which!r}: choose profile, result or report")
    return {"$schema": SCHEMA_URL, **schema}

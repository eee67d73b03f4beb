"""Whatever an application hands over, a bad profile is a ValidationError naming the field."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import ValidationError

from mbc_rules import Rulebase

LETROZOLE = {"agent": "letrozole", "outcome": "progressed"}

BAD_PROFILES: list[tuple[str, Any, str]] = [
    ("misspelt field", {"er_stauts": "positive"}, "er_stauts"),
    ("misspelt value", {"er_status": "postive"}, "er_status"),
    ("a test result, not a status", {"her2_status": "HER2+"}, "her2_status"),
    ("number for a status", {"pr_status": 1}, "pr_status"),
    ("boolean for a status", {"brca_status": True}, "brca_status"),
    ("null for a status", {"pdl1_status": None}, "pdl1_status"),
    ("wrong menopausal value", {"menopausal_status": "post"}, "menopausal_status"),
    ("wrong sex", {"sex": "woman"}, "sex"),
    ("string where a list belongs", {"metastatic_sites": "bone"}, "metastatic_sites"),
    ("unknown site", {"metastatic_sites": ["bones"]}, "metastatic_sites.0"),
    ("unknown complication", {"complications": ["cough"]}, "complications.0"),
    ("duplicate site", {"metastatic_sites": ["bone", "bone"]}, "metastatic_sites"),
    ("mapping where a list belongs", {"complications": {"bone_pain": True}}, "complications"),
    ("string for a flag", {"de_novo": "yes"}, "de_novo"),
    ("number for a flag", {"good_general_health": 1}, "good_general_health"),
    ("wrong brain value", {"brain_metastases": "many"}, "brain_metastases"),
    ("unknown drug", {"prior_therapies": [{"agent": "letrozol"}]}, "prior_therapies.0.agent"),
    (
        "unknown outcome",
        {"prior_therapies": [{**LETROZOLE, "outcome": "failed"}]},
        "prior_therapies.0.outcome",
    ),
    (
        "unknown setting",
        {"prior_therapies": [{**LETROZOLE, "setting": "adjuvant"}]},
        "prior_therapies.0.setting",
    ),
    (
        "list where a mapping belongs",
        {"prior_therapies": [["letrozole", "progressed"]]},
        "prior_therapies.0",
    ),
    ("string where a therapy belongs", {"prior_therapies": ["letrozole"]}, "prior_therapies.0"),
    ("missing agent", {"prior_therapies": [{"outcome": "progressed"}]}, "prior_therapies.0.agent"),
    (
        "unknown key in a therapy",
        {"prior_therapies": [{**LETROZOLE, "dose": 2.5}]},
        "prior_therapies.0.dose",
    ),
    (
        "line out of range",
        {"prior_therapies": [{**LETROZOLE, "line": 0}]},
        "prior_therapies.0.line",
    ),
    ("duplicate therapy", {"prior_therapies": [LETROZOLE, LETROZOLE]}, "prior_therapies"),
    (
        "ongoing and stopped",
        {"prior_therapies": [{**LETROZOLE, "outcome": "ongoing"}, LETROZOLE]},
        "prior_therapies",
    ),
    ("menopause for a man", {"sex": "male", "menopausal_status": "postmenopausal"}, ""),
    ("operable site that has not spread", {"resectable_sites": ["liver"]}, ""),
    ("very long string", {"patient_id": "x" * 100_000}, "patient_id"),
    ("thousands of sites", {"metastatic_sites": ["bone"] * 5000}, "metastatic_sites"),
    ("thousands of therapies", {"prior_therapies": [LETROZOLE] * 5000}, "prior_therapies"),
    ("None for the profile", None, ""),
    ("a list for the profile", [("er_status", "positive")], ""),
    ("a string for the profile", "er_status=positive", ""),
]


@pytest.mark.parametrize(
    ("data", "field"),
    [(d, f) for _, d, f in BAD_PROFILES],
    ids=[name for name, _, _ in BAD_PROFILES],
)
def test_a_bad_profile_is_a_validation_error_naming_the_field(
    rulebase: Rulebase, data: Any, field: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(ValidationError) as caught:
        rulebase.evaluate(data)
    # Generous bound: oversized input must be refused without being processed item by item
    # into a result. Timing belongs to the benchmark; this only catches a pathological case.
    assert time.perf_counter() - started < 5
    locations = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert field in locations, locations


def test_there_are_at_least_twenty_five_bad_profiles() -> None:
    assert len(BAD_PROFILES) >= 25


def test_an_unknown_drug_error_suggests_the_nearest_names(rulebase: Rulebase) -> None:
    with pytest.raises(ValidationError, match="did you mean 'trastuzumab'"):
        rulebase.evaluate({"prior_therapies": [{"agent": "trastuzumb"}]})

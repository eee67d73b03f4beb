"""Profiles several test modules read, each written once."""

from __future__ import annotations

from typing import Any

# A later line (issue 21): postmenopausal, HR+/HER2-, spread to bone with pain, after the cancer
# grew on letrozole and then on palbociclib.
LATER_LINE: dict[str, Any] = {
    "patient_id": "p-7",
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
    "complications": ["bone_pain"],
    "prior_therapies": [
        {"agent": "letrozole", "outcome": "progressed"},
        {"agent": "palbociclib", "outcome": "progressed"},
    ],
}

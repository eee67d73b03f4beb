"""A text cell in a list field of a frame: docs/profile.md says a list field reads a delimited
string, and in prior_therapies each name is a drug whose outcome is unknown. The length-bound
list fields (prior_therapies, complications) were refused ("Input should be a valid list")."""

from __future__ import annotations

import pandas as pd

import mbc_rules
from mbc_rules.cohort.reading import LIST_FIELDS


def test_every_list_field_of_the_profile_reads_text() -> None:
    assert {"prior_therapies", "complications", "metastatic_sites"} <= LIST_FIELDS


def test_text_cells_read_as_the_lists_they_name() -> None:
    base = {"er_status": "positive", "pr_status": "positive", "her2_status": "negative"}
    frame = pd.DataFrame(
        [
            {
                "patient_id": "text",
                **base,
                "prior_therapies": "Femara; Faslodex",
                "complications": "bone_pain, fracture_risk",
            },
            {
                "patient_id": "list",
                **base,
                "prior_therapies": [{"agent": "letrozole"}, {"agent": "fulvestrant"}],
                "complications": ["bone_pain", "fracture_risk"],
            },
        ]
    )
    out = mbc_rules.evaluate_frame(frame)
    assert out.errors.empty, out.errors.to_dict("records")
    text = out.long[out.long.index == 0][["category", "rank", "agents"]].to_dict("records")
    listed = out.long[out.long.index == 1][["category", "rank", "agents"]].to_dict("records")
    assert text == listed
    profile = mbc_rules.Rulebase.bundled().evaluate(
        {
            **base,
            "prior_therapies": [{"agent": "letrozole"}, {"agent": "fulvestrant"}],
            "complications": ["bone_pain", "fracture_risk"],
        }
    )
    # Each name is a drug whose outcome is unknown, as a profile reads it.
    assert [o.category for o in profile.options] == [r["category"] for r in text]
    bad = mbc_rules.evaluate_frame(
        pd.DataFrame([{"patient_id": "x", **base, "prior_therapies": "letrozole; nodrugatall"}])
    )
    assert list(bad.errors["field"]) == ["prior_therapies.1.agent"]

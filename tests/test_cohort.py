"""Cohorts: many patients at once, bad rows collected, frames long and wide."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest
from pydantic import ValidationError

from mbc_rules import Rulebase, evaluate_frame, evaluate_many
from mbc_rules.rank import CATEGORY_ORDER

STATUSES = ("positive", "negative", "unknown")
SITES = ("bone", "liver", "lung", "brain", "soft_tissue")


def synthetic(n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "patient_id": f"p{i}",
            "er_status": rng.choice(STATUSES),
            "pr_status": rng.choice(STATUSES),
            "her2_status": rng.choice(STATUSES),
            "pdl1_status": rng.choice(STATUSES),
            "menopausal_status": rng.choice(("premenopausal", "postmenopausal", "unknown")),
            "metastatic_sites": rng.sample(SITES, rng.randint(0, 2)),
        }
        for i in range(n)
    ]


def test_evaluate_many_matches_one_by_one(bundled: Rulebase) -> None:
    profiles = synthetic(50)
    cohort = evaluate_many(profiles)
    assert list(cohort.evaluations) == [p["patient_id"] for p in profiles]
    for profile in profiles:
        again = bundled.evaluate(profile)
        assert cohort.evaluations[str(profile["patient_id"])].model_dump_json() == (
            again.model_dump_json()
        )


def test_evaluate_many_raises_or_collects() -> None:
    profiles = [{"er_status": "positive"}, {"er_status": "maybe"}, {"her2_status": "positive"}]
    with pytest.raises(ValidationError):
        evaluate_many(profiles)
    cohort = evaluate_many(profiles, errors="collect")
    assert list(cohort.evaluations) == ["0", "2"]
    (error,) = cohort.errors
    assert error.row_id == "1"
    assert error.message.startswith("er_status:")


def test_frame_with_bad_rows_gives_results_and_an_errors_table() -> None:
    rows = synthetic(10_000)
    bad = {17: {"er_status": "HER2+"}, 4242: {"metastatic_sites": ["bones"]}, 9999: {"sex": 3}}
    for index, change in bad.items():
        rows[index].update(change)
    rows[5]["pdl1_status"] = math.nan  # an empty cell: not given, so unknown
    frame = pd.DataFrame(rows)
    out = evaluate_frame(frame, progress=False)
    assert sorted(out.errors["patient_id"]) == sorted(f"p{i}" for i in bad)
    assert sorted(out.errors.index) == sorted(bad)
    fields = dict(zip(out.errors["patient_id"], out.errors["field"], strict=True))
    assert fields == {"p17": "er_status", "p4242": "metastatic_sites.0", "p9999": "sex"}
    values = dict(zip(out.errors["patient_id"], out.errors["value"], strict=True))
    assert values == {"p17": "HER2+", "p4242": "bones", "p9999": 3}
    # Every input row keeps its place in the wide table; a failed row offers nothing.
    assert out.wide.shape == (10_000, 1 + len(CATEGORY_ORDER))
    assert out.wide.loc[list(bad), list(CATEGORY_ORDER)].isna().all().all()
    assert list(out.long.columns) == [
        "patient_id",
        "category",
        "rank",
        "tier",
        "agents",
        "source_ids",
    ]
    assert out.result.evaluations["p5"].profile.pdl1_status == "unknown"
    # The long and the wide tables say the same thing.
    first = out.long[out.long["patient_id"] == "p0"]
    wide = out.wide.set_index("patient_id").loc["p0"]
    for _, row in first.iterrows():
        assert wide[row["category"]] == row["rank"]


def test_frame_errors_can_raise() -> None:
    frame = pd.DataFrame([{"er_status": "positive"}, {"er_status": "HER2+"}])
    with pytest.raises(ValidationError):
        evaluate_frame(frame, errors="raise")


def test_frame_without_patient_ids_uses_the_index() -> None:
    frame = pd.DataFrame(
        [{"er_status": "positive"}, {"er_status": "negative", "pr_status": "negative"}],
        index=["a", "b"],
    )
    out = evaluate_frame(frame)
    assert set(out.wide["patient_id"]) == {"a", "b"}
    assert out.wide.set_index("patient_id").loc["b", "chemotherapy"] == 1


def test_summary_counts_first_choices_and_rule_firings() -> None:
    cohort = evaluate_many(synthetic(200))
    summary = cohort.summary()
    assert summary.patients == 200
    firsts = sum(
        len({o.category for o in r.options if o.rank == 1}) for r in cohort.evaluations.values()
    )
    assert sum(summary.first_choice.values()) == firsts
    assert summary.rule_fired["palliative-care-alongside"] == 200
    ax = summary.plot()
    assert len(ax.patches) == len([c for c in summary.first_choice if summary.first_choice[c]])


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    evaluate_many(synthetic(5), progress=True)
    assert "5/5" in capsys.readouterr().err

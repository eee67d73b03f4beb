"""Cohorts: many patients at once, bad rows collected, frames long and wide."""

from __future__ import annotations

import math
import random
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from mbc_rules import Rulebase, evaluate, evaluate_frame, evaluate_many
from mbc_rules.vocabulary import CATEGORY_ORDER

STATUSES = ("positive", "negative", "unknown")
SITES = ("bone", "liver", "lung", "brain", "soft_tissue")


def synthetic(n: int, seed: int = 7) -> list[dict[str, Any]]:
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
        evaluation = cohort.evaluations[str(profile["patient_id"])]
        assert evaluation.model_dump_json() == bundled.evaluate(profile).model_dump_json()


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
    bad: dict[int, dict[str, Any]] = {
        17: {"er_status": "HER2+"},
        4242: {"metastatic_sites": ["bones"]},
        9999: {"sex": 3},
    }
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
    rows = [*synthetic(200), {"patient_id": "bad", "er_status": "maybe"}]
    cohort = evaluate_many(rows, errors="collect")
    summary = cohort.summary()
    assert (summary.rows, summary.patients, summary.failed) == (201, 200, 1)
    assert summary.totals.loc["failed", "patients"] == 1
    firsts = [[o.category for o in r.options if o.rank == 1] for r in cohort.evaluations.values()]
    for category, row in summary.first_choice.iterrows():
        assert row["patients"] == sum(category in f for f in firsts)
        assert row["alone"] == sum(f == [category] for f in firsts)
    # Shares split a tied patient: they add up to the patients with any option, once each.
    assert summary.first_choice["share"].sum() == pytest.approx(sum(1 for f in firsts if f))
    assert summary.totals.loc["tied first place", "patients"] == sum(len(f) > 1 for f in firsts)
    assert summary.rule_fired.loc["palliative-care-alongside", "patients"] == 200
    ax = summary.plot()
    assert len(ax.patches) == 2 * len(summary.first_choice)  # alone and tied segments
    html = summary._repr_html_()
    assert "201 rows</b>: 200 evaluated, 1 failed" in html


def test_a_patient_with_two_tied_first_places_counts_once() -> None:
    from mbc_rules.cohort_summary import summarise

    base = evaluate({"er_status": "negative", "pr_status": "negative", "her2_status": "negative"})
    first, second, *rest = base.options
    tied = base.model_copy(
        update={
            "options": [
                first.model_copy(update={"rank": 1}),
                second.model_copy(update={"rank": 1}),
                *[o.model_copy(update={"rank": o.rank}) for o in rest],
            ]
        }
    )
    summary = summarise([tied, base], failed=3)
    table = summary.first_choice
    assert table.loc[first.category, "patients"] == 2
    assert table.loc[first.category, "alone"] == 1
    assert table.loc[first.category, "tied"] == 1
    assert table.loc[second.category, "patients"] == 1
    assert table.loc[first.category, "share"] == pytest.approx(1.5)
    assert table.loc[second.category, "share"] == pytest.approx(0.5)
    assert table["share"].sum() == pytest.approx(2)  # two patients, not three first places
    assert (summary.rows, summary.patients, summary.failed) == (5, 2, 3)


def test_the_progress_bar_in_a_kernel_without_ipywidgets_is_the_text_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util
    import sys
    import types
    import typing

    import tqdm.std

    from mbc_rules.cohort import rows as cohort

    class Shell:
        config: typing.ClassVar[dict[str, object]] = {"IPKernelApp": {}}

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: Shell()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name)
    )
    assert cohort._progress_bar() is tqdm.std.tqdm


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    evaluate_many(synthetic(5), progress=True)
    assert "5/5" in capsys.readouterr().err


def test_a_cohort_gives_the_collector_back_as_it_found_it() -> None:
    """evaluate_frame holds automatic collections off while it runs (cohort/collection.py)
    and turns them back on after, on an error too; a collector the caller turned off stays
    off."""
    import gc

    frame = pd.DataFrame([{"er_status": "positive"}, {"er_status": "negative"}])
    assert gc.isenabled()
    evaluate_frame(frame, verify=0)
    assert gc.isenabled()
    with pytest.raises(ValidationError):
        evaluate_frame(pd.DataFrame([{"er_status": "sideways"}]), errors="raise", verify=0)
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate_frame(frame, verify=0)
        assert not gc.isenabled()
    finally:
        gc.enable()

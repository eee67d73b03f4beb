"""The columnar cohort engine: durable-rules' answers, from frames as people have them."""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Rulebase, evaluate_frame
from mbc_rules.cohort import VerificationError, evaluate_many
from mbc_rules.cohort.frames import columnar_trace
from mbc_rules.cohort.reading import row_mapping
from mbc_rules.engine import _import_durable
from mbc_rules.facts import derive_facts
from mbc_rules.vocabulary import CATEGORY_ORDER

from .strategies import AGENT_IDS, profiles, random_profile

ENGINES = ["python", "compiled", *(["durable"] if _import_durable() is not None else [])]
BATCH = 250
BATCHES = 20  # 5,000 profiles


def _options(evaluation: object) -> list[tuple[object, ...]]:
    return [
        (o.category, o.rank, o.tier, tuple(o.agents), tuple(o.source_ids))
        for o in evaluation.options  # type: ignore[attr-defined]
    ]


def _long_rows(long: pd.DataFrame, label: object) -> list[tuple[object, ...]]:
    mine = long.loc[[label]] if label in long.index else long.iloc[0:0]
    return [
        (str(c), int(r), t, tuple(a), tuple(s))
        for c, r, t, a, s in zip(
            mine["category"],
            mine["rank"],
            mine["tier"],
            mine["agents"],
            mine["source_ids"],
            strict=True,
        )
    ]


def _check_four_paths(batch: list[dict[str, object]]) -> None:
    rulebases = {engine: Rulebase.bundled(engine=engine) for engine in ENGINES}  # type: ignore[arg-type]
    reference = rulebases[ENGINES[-1]]
    frame = pd.DataFrame(batch)
    out = evaluate_frame(frame, rulebase=reference, verify=0)
    trace = columnar_trace(frame, reference)
    assert out.errors.empty
    for position, profile in enumerate(batch):
        results = {e: rb.evaluate(profile) for e, rb in rulebases.items()}
        expected = results[ENGINES[-1]]
        for engine, result in results.items():
            assert result.model_dump_json() == expected.model_dump_json(), engine
        row = trace[position]
        assert row is not None
        facts, fired = row
        assert facts == derive_facts(expected.profile, reference.vocabulary)
        assert fired == set(expected.fired_rules)
        assert _long_rows(out.long, position) == _options(expected)
        wide = out.wide.iloc[position]
        for option in expected.options:
            assert wide[option.category] == option.rank


@pytest.mark.slow
@settings(max_examples=BATCHES, deadline=None, derandomize=True)
@given(st.integers(min_value=0, max_value=2**32))
def test_four_paths_give_identical_results(seed: int) -> None:
    """durable-rules, the plain-Python and compiled matchers and the columnar engine agree.

    5,000 profiles with histories (every generated fact, every rule), in batches of 250.
    """
    rng = random.Random(seed)
    _check_four_paths([random_profile(rng) for _ in range(BATCH)])


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(st.lists(profiles(), min_size=1, max_size=20))
def test_four_paths_agree_on_drawn_profiles(batch: list[dict[str, object]]) -> None:
    """The same from hypothesis' own strategies, which shrink a failure to its core."""
    _check_four_paths(batch)


def test_every_fact_equals_derive_facts(bundled: Rulebase) -> None:
    rows: list[dict[str, Any]] = [
        {"er_status": "positive", "metastatic_sites": ["bone", "liver"], "brain_metastases": "few"},
        {"sex": "male", "prior_therapies": [{"agent": "Femara", "outcome": "progressed"}]},
        {},
    ]
    for row, traced in zip(rows, columnar_trace(pd.DataFrame(rows), bundled), strict=True):
        assert traced is not None
        assert traced[0] == derive_facts(bundled.read_profile(row), bundled.vocabulary)


def test_empty_frame() -> None:
    out = evaluate_frame(pd.DataFrame())
    assert out.long.empty
    assert out.wide.empty
    assert out.errors.empty
    assert list(out.errors.columns) == ["patient_id", "field", "value", "message"]
    out = evaluate_frame(pd.DataFrame(columns=["er_status"]))
    assert out.long.empty


def test_one_row(bundled: Rulebase) -> None:
    profile = {"er_status": "positive", "her2_status": "negative", "metastatic_sites": ["bone"]}
    out = evaluate_frame(pd.DataFrame([profile]), verify=1)
    assert _long_rows(out.long, 0) == _options(bundled.evaluate(profile))
    # The row's full result, built on demand.
    assert out.evaluation(0).model_dump_json() == bundled.evaluate(profile).model_dump_json()


def test_categorical_arrow_backed_and_plain_columns_agree(bundled: Rulebase) -> None:
    rows = [
        {"er_status": s, "her2_status": h, "metastatic_sites": m}
        for s in ("positive", "negative", None)
        for h in ("positive", "negative")
        for m in (["bone"], ["liver", "lung"], [])
    ]
    plain = pd.DataFrame(rows)
    categorical = plain.astype({"er_status": "category", "her2_status": "category"})
    arrow = pd.DataFrame(rows).convert_dtypes(dtype_backend="pyarrow")
    outs = [evaluate_frame(f, verify=0) for f in (plain, categorical, arrow)]
    for other in outs[1:]:
        pd.testing.assert_frame_equal(outs[0].wide, other.wide)
        assert outs[0].long["rank"].tolist() == other.long["rank"].tolist()
    for position, row in enumerate(rows):
        clean = {k: v for k, v in row.items() if v is not None}
        assert _long_rows(outs[2].long, position) == _options(bundled.evaluate(clean))


def test_nan_and_empty_text_are_missing(bundled: Rulebase) -> None:
    frame = pd.DataFrame(
        {
            "er_status": ["positive", math.nan, "", "  ", None],
            "de_novo": [True, None, np.nan, False, pd.NA],
            "metastatic_sites": [["bone"], math.nan, "", None, "bone; lung"],
        }
    )
    out = evaluate_frame(frame)
    assert out.errors.empty
    assert out.evaluation(1).profile.er_status == "unknown"
    assert out.evaluation(2).profile.er_status == "unknown"
    assert list(out.evaluation(4).profile.metastatic_sites) == ["bone", "lung"]
    expected = bundled.evaluate({"metastatic_sites": ["bone", "lung"]})
    assert _long_rows(out.long, 4) == _options(expected)


def test_mixed_types_in_one_column_are_told_apart() -> None:
    # True and 1 are equal in Python; only True is a valid yes/no.
    frame = pd.DataFrame({"de_novo": [True, 1, 1.0, "yes", False]}, dtype=object)
    out = evaluate_frame(frame)
    assert sorted(out.errors.index) == [1, 2, 3]
    assert set(out.errors["field"]) == {"de_novo"}
    assert list(out.errors["value"]) == [1, 1.0, "yes"]
    assert out.wide.loc[[0, 4]].notna().any(axis=1).all()


def test_bad_rows_go_to_the_errors_table_with_field_value_and_message() -> None:
    frame = pd.DataFrame(
        [
            {"patient_id": "a", "er_status": "positive"},
            {"patient_id": "b", "er_status": "HER2+"},
            {"patient_id": "c", "metastatic_sites": ["bones"], "sex": 3},
            {"patient_id": "d", "sex": "male", "menopausal_status": "postmenopausal"},
        ],
        index=[10, 11, 12, 13],
    )
    out = evaluate_frame(frame)
    assert list(out.errors.columns) == ["patient_id", "field", "value", "message"]
    errors = out.errors
    assert list(errors.loc[[11], "value"]) == ["HER2+"]
    assert "'HER2+'" in str(errors.loc[11, "message"])
    assert set(errors.loc[[12], "field"]) == {"metastatic_sites.0", "sex"}
    assert "3" in errors[errors["field"] == "sex"]["message"].iloc[0]
    assert "male" in str(errors.loc[13, "message"])
    # Failed rows keep their place in the wide table, with nothing offered.
    assert list(out.wide.index) == [10, 11, 12, 13]
    assert out.wide.loc[11, list(CATEGORY_ORDER)].isna().all()
    assert out.wide.loc[10, list(CATEGORY_ORDER)].notna().any()


def test_errors_can_raise() -> None:
    from pydantic import ValidationError

    frame = pd.DataFrame([{"er_status": "positive"}, {"er_status": "maybe"}])
    with pytest.raises(ValidationError):
        evaluate_frame(frame, errors="raise")


def test_a_frame_as_people_have_it(bundled: Rulebase) -> None:
    """Issue 13: extra columns, integer ids, blanks, delimited lists, clinical spellings."""
    frame = pd.DataFrame(
        {
            "patient_id": [101, 102, 103, 103, None],
            "mrn": ["x1", "x2", "x3", "x4", "x5"],
            "age": [50, 61, 47, 47, 70],
            "er_status": ["Positive", "pos", "+", "NEG", ""],
            "her2_status": ["neg", "-", "Negative", "negative", np.nan],
            "metastatic_sites": ["bone;lung", "liver, bone", ["bone"], [], None],
        },
        index=["r1", "r2", "r3", "r4", "r5"],
    )
    with pytest.warns(UserWarning, match="mrn, age"):
        out = evaluate_frame(frame)
    # A repeated id is an error row for each row that claims it; the rest evaluate.
    assert sorted(out.errors.index) == ["r3", "r4"]
    assert set(out.errors["field"]) == {"patient_id"}
    assert list(out.wide.index) == ["r1", "r2", "r3", "r4", "r5"]
    assert list(out.wide["patient_id"]) == [101, 102, 103, 103, "r5"]
    assert set(out.long.index) == {"r1", "r2", "r5"}
    expected = bundled.evaluate(
        {"er_status": "positive", "her2_status": "negative", "metastatic_sites": ["bone", "lung"]}
    )
    assert _long_rows(out.long, "r1") == _options(expected)
    assert list(out.evaluation("r2").profile.metastatic_sites) == ["liver", "bone"]
    with pytest.raises(Exception, match="mrn"):
        evaluate_frame(frame, extra="forbid")


def test_an_explicit_id_beside_an_index_label_does_not_abort() -> None:
    """Issue 11: id "1" and a row without id at index 1."""
    frame = pd.DataFrame({"patient_id": ["1", None], "er_status": ["positive", "negative"]})
    out = evaluate_frame(frame)
    assert out.errors.empty
    assert list(out.wide["patient_id"]) == ["1", 1]


def test_verify_names_the_row_and_the_rule(
    bundled: Rulebase, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _import_durable() is None:
        pytest.skip("durable-rules does not import here")
    from mbc_rules.cohort import columnar

    real = columnar.ColumnarEngine.masks

    def drop_palliative(self: columnar.ColumnarEngine, facts: object, count: int) -> np.ndarray:
        fired = real(self, facts, count)  # type: ignore[arg-type]
        fired[:, self.rule_ids.index("palliative-care-alongside")] = False
        return fired

    monkeypatch.setattr(columnar.ColumnarEngine, "masks", drop_palliative)
    frame = pd.DataFrame([{"er_status": "positive"}] * 3, index=["a", "b", "c"])
    with pytest.raises(VerificationError, match=r"row '[abc]'.*palliative-care-alongside"):
        evaluate_frame(frame, verify=2)


def test_two_processes_give_the_same_tables() -> None:
    rows = [
        {"patient_id": f"p{i}", "er_status": ("positive", "negative")[i % 2], "sex": "female"}
        for i in range(9000)
    ]
    rows[7]["er_status"] = "maybe"
    frame = pd.DataFrame(rows)
    one = evaluate_frame(frame, verify=0)
    two = evaluate_frame(frame, verify=0, n_jobs=2)
    pd.testing.assert_frame_equal(one.wide, two.wide)
    pd.testing.assert_frame_equal(one.long, two.long)
    pd.testing.assert_frame_equal(one.errors, two.errors)


def test_evaluate_many_reads_models_and_mappings(bundled: Rulebase) -> None:
    from mbc_rules import PatientProfile

    profiles: list[PatientProfile | dict[str, Any]] = [
        PatientProfile(er_status="positive"),
        {"er_status": "negative", "pr_status": "negative"},
    ]
    cohort = evaluate_many(profiles)
    assert list(cohort.evaluations) == ["0", "1"]
    assert (
        cohort.evaluations["1"].model_dump_json() == bundled.evaluate(profiles[1]).model_dump_json()
    )


def test_parquet_and_arrow_input(tmp_path: object, bundled: Rulebase) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from pathlib import Path

    rows = [
        {
            "patient_id": f"p{i}",
            "er_status": ("positive", "negative", None)[i % 3],
            "metastatic_sites": [["bone"], ["liver", "lung"], None][i % 3],
            "prior_therapies": [[{"agent": "letrozole", "outcome": "progressed"}], [], None][i % 3],
        }
        for i in range(30)
    ]
    table = pa.Table.from_pylist(rows)
    path = Path(str(tmp_path)) / "cohort.parquet"
    pq.write_table(table, path)
    from_table = evaluate_frame(table, verify=0)
    from_file = evaluate_frame(path, verify=0)
    pd.testing.assert_frame_equal(from_table.wide, from_file.wide)
    for position, row in enumerate(rows):
        clean = {k: v for k, v in row.items() if v is not None}
        assert _long_rows(from_file.long, position) == _options(bundled.evaluate(clean))


def test_no_warning_without_extra_columns() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_frame(pd.DataFrame([{"er_status": "positive"}]))


OWN_RULES = """
rules:
  - id: tamoxifen-only
    title: Tamoxifen, for hormone receptor positive cancer.
    tier_word: often
    when: {fact: er_status, equals: positive}
    then:
      offer: {category: hormone_therapy, tier: option, agents: [tamoxifen]}
    citations: [acs-hr-positive-first-line-1]
    examples:
      - profile: {er_status: positive}
        fires: true
"""


def test_a_rule_set_without_offers_in_some_systemic_categories_evaluates_as_a_cohort(
    tmp_path: Path,
) -> None:
    # Issue 20: evaluate_frame raised IndexError on a rule set of one's own with no offer in
    # one of the four systemic categories, unless a single evaluation had run first.
    (tmp_path / "rules.yaml").write_text(OWN_RULES, encoding="utf-8")
    rulebase = Rulebase.load(tmp_path, engine="compiled")
    frame = pd.DataFrame(
        [
            {"patient_id": "a", "er_status": "positive"},
            {"patient_id": "b", "er_status": "negative", "prior_therapies": "letrozole"},
        ]
    )
    cohort = evaluate_frame(frame, rulebase=rulebase, verify=0)
    assert cohort.errors.empty
    single = Rulebase.load(tmp_path, engine="compiled")
    rows = frame.to_dict("index")
    for label, evaluation in cohort.evaluations():
        # As the frame reads the row: "letrozole" in prior_therapies is a drug whose outcome
        # is unknown (docs/profile.md); it was refused before, and the row left out.
        profile = row_mapping({str(k): v for k, v in rows[label].items()})
        expected = single.evaluate(profile)
        assert [(o.rank, o.category, o.agents) for o in evaluation.options] == [
            (o.rank, o.category, o.agents) for o in expected.options
        ]
    first = cohort.evaluation(0)
    assert [o.category for o in first.options] == ["hormone_therapy"]


def test_a_rulebase_evaluated_as_a_cohort_is_not_kept_alive() -> None:
    import gc
    import weakref

    from mbc_rules.cohort import frames

    rulebase = Rulebase.bundled().with_engine("compiled")
    evaluate_frame(pd.DataFrame([{"er_status": "positive"}]), rulebase=rulebase, verify=0)
    assert rulebase in frames._ENGINES
    gone = weakref.ref(rulebase)
    del rulebase
    gc.collect()
    assert gone() is None


def test_every_history_fact_has_its_column_wise_join() -> None:
    from mbc_rules.cohort.columnar import HISTORY_JOINS
    from mbc_rules.facts import FACTS, EntryFacts

    history_facts = {f.name for f in FACTS.values() if "prior_therapies" in f.reads}
    assert set(HISTORY_JOINS) == history_facts
    assert {field for _, field in HISTORY_JOINS.values()} <= set(EntryFacts._fields)


_HISTORIES = st.lists(
    st.lists(
        st.fixed_dictionaries(
            {
                "agent": st.sampled_from(AGENT_IDS),
                "outcome": st.sampled_from(["ongoing", "progressed", "completed", "unknown"]),
                "setting": st.sampled_from(["metastatic", "early"]),
            },
            optional={"line": st.one_of(st.integers(1, 4), st.integers(40, 50))},
        ),
        unique_by=lambda t: (t["agent"], t["setting"]),
        max_size=8,
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories=_HISTORIES)
def test_history_facts_joined_column_wise_equal_derive_facts(
    histories: list[list[dict[str, Any]]],
) -> None:
    """Each history fact the columnar engine joins from its entries' facts (counts of
    distinct drugs, classes and lines, flags) is the fact derive_facts gives the row.
    """
    bundled = Rulebase.bundled(engine="python")
    rows = [{"prior_therapies": history} for history in histories]
    for row, traced in zip(rows, columnar_trace(pd.DataFrame(rows), bundled), strict=True):
        assert traced is not None
        expected = derive_facts(bundled.read_profile(row), bundled.vocabulary)
        assert {k: traced[0][k] for k in expected} == expected


@settings(max_examples=200, deadline=None)
@given(
    histories=st.lists(st.lists(st.integers(-1, 100), max_size=6), max_size=30),
    how=st.sampled_from(["any", "some", "distinct", "lines"]),
)
def test_each_join_of_entry_values_is_the_per_history_reading(
    histories: list[list[int]], how: str
) -> None:
    """The joins over flat entry codes (bits or-ed per history, or sorted pairs past 62
    distinct codes) give what reading each history's entries one by one gives.
    """
    from mbc_rules.cohort.columnar import _joined
    from mbc_rules.facts import UNNUMBERED_LINE

    if how == "any":
        histories = [[int(v > 0) for v in h] for h in histories]
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    values = np.array([v for h in histories for v in h], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    got = _joined(how, values, lengths, starts, lengths > 0).tolist()

    def one(history: list[int]) -> int:
        if how == "any":
            return int(any(history))
        if how == "some":
            return int(any(v >= 0 for v in history))
        if how == "distinct":
            return len({v for v in history if v >= 0})
        numbered = {v for v in history if v > UNNUMBERED_LINE}
        return len(numbered) + sum(v == UNNUMBERED_LINE for v in history)

    assert got == [one(h) for h in histories]


def test_men_with_histories_are_ranked_as_one_evaluation_ranks_them() -> None:
    """For a man, the sentences that speak only of women support nothing: the columnar
    engine reads each rule as it reads for him, keyed on the same verdicts as a woman's,
    and gives what a single evaluation gives.
    """
    rng = random.Random(20261207)
    batch = []
    for _ in range(BATCH):
        profile = random_profile(rng)
        profile.update(sex="male", menopausal_status="unknown")
        batch.append(profile)
    # The same histories for women beside them: the two sexes' contributions are told apart.
    batch += [{**p, "sex": "female"} for p in batch[:50]]
    _check_four_paths(batch)

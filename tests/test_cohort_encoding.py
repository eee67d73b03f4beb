"""How a cohort's columns are encoded and its tables built, against what the row path says.

Ids are measured rather than factorised (only an id longer than MAX_TEXT can fail), blank
cells are found in C, and the long table's order is found by sorting each row's categories:
each is checked here against the plain definition it replaces.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mbc_rules import Rulebase, evaluate_frame
from mbc_rules.cohort.reading import ColumnValidator, encode_series, is_missing, missing_cells
from mbc_rules.cohort.tables import offered_in_order
from mbc_rules.profile import MAX_TEXT
from mbc_rules.vocabulary import CATEGORY_ORDER

BASE = {"er_status": "positive", "her2_status": "negative", "metastatic_sites": ["bone"]}


def _expected(cells: list[Any], labels: list[Any]) -> tuple[list[Any], set[int]]:
    """Each row's id and the rows whose id fails, as the row path reads each cell."""
    bundled = Rulebase.bundled()
    ids, failed = [], set()
    for position, (cell, label) in enumerate(zip(cells, labels, strict=True)):
        missing = is_missing(cell) or bool(pd.isna(cell))
        ids.append(label if missing else cell)
        mapping = dict(BASE) if missing else {**BASE, "patient_id": cell}
        if not missing and not isinstance(mapping["patient_id"], str):
            mapping["patient_id"] = str(mapping["patient_id"])
        try:
            bundled.evaluate(mapping)
        except ValidationError:
            failed.add(position)
    return ids, failed


def _frame(cells: list[Any], kind: str) -> Any:
    rows = [{**BASE, "patient_id": c} for c in cells]
    frame = pd.DataFrame(rows)
    frame["patient_id"] = pd.Series(cells, dtype=object)
    if kind == "arrow":
        return pa.table({"patient_id": pa.array(cells, type=pa.string())}).append_column(
            "er_status", pa.array([BASE["er_status"]] * len(cells))
        )
    if kind == "str":
        frame["patient_id"] = frame["patient_id"].astype("str")
    if kind == "category":
        frame["patient_id"] = frame["patient_id"].astype("category")
    return frame


def _check_ids(cells: list[Any], kind: str) -> None:
    out = evaluate_frame(_frame(cells, kind), verify=0)
    ids, failed = _expected(cells, list(range(len(cells))))
    assert out.wide["patient_id"].tolist() == ids
    assert {int(p) for p in out.errors.index} == failed
    assert set(out.errors["field"]) <= {"patient_id"}
    assert out.errors["patient_id"].tolist() == [ids[p] for p in sorted(failed)]


LONG = "x" * (MAX_TEXT + 1)
ID_CELLS = [
    "a",
    "x" * MAX_TEXT,
    LONG,
    "é" * MAX_TEXT,  # code points, not bytes
    "é" * (MAX_TEXT + 1),
    " " * (MAX_TEXT + 5),  # blank: missing, so the index label, whatever its length
    "\u3000" * (MAX_TEXT + 5),
    "",
    "  ",
    " " + "y" * MAX_TEXT,  # blanks around text are text
]


@pytest.mark.parametrize("kind", ["object", "str", "arrow", "category"])
def test_an_id_fails_only_when_its_text_is_too_long(kind: str) -> None:
    _check_ids(ID_CELLS, kind)


def test_ids_that_are_not_text() -> None:
    cells: list[Any] = [
        LONG,
        5,
        7.5,
        None,
        math.nan,
        np.str_("z" * (MAX_TEXT + 1)),
        np.str_("ok"),
        True,
        10 ** (MAX_TEXT + 1),
    ]
    _check_ids(cells, "object")


ID_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from("ab é\t\u3000\x1c\x85\xa0"), max_size=5),
    st.integers(MAX_TEXT - 3, MAX_TEXT + 3).flatmap(
        lambda n: st.sampled_from(["q" * n, " " * n, "é" * n, " " + "q" * n])
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(ID_TEXT, st.none()), min_size=1, max_size=12, unique=True),
    st.sampled_from(["object", "str", "arrow"]),
)
def test_drawn_ids_read_as_the_row_path_reads_them(cells: list[Any], kind: str) -> None:
    _check_ids(cells, kind)


CELLS = st.one_of(
    st.text(alphabet=st.sampled_from("a \t\n\x00\x1c\u3000\xa0\u200b"), max_size=4),
    st.none(),
    st.just(math.nan),
    st.just(pd.NA),
    st.integers(-2, 2),
    st.just(np.str_(" ")),
    st.just(np.str_("a")),
    st.just(["a"]),
)


@given(st.lists(CELLS, max_size=12))
def test_missing_cells_are_the_cells_that_are_missing(cells: list[Any]) -> None:
    assert missing_cells(cells) == [i for i, c in enumerate(cells) if is_missing(c)]


def test_a_column_of_ids_is_encoded_as_only_its_long_cells() -> None:
    cells = ["a", LONG, " " * (MAX_TEXT + 1), "é" * MAX_TEXT, LONG, "é" * (MAX_TEXT + 1)]
    series = pd.Series(cells, dtype=object)
    for column in (series, series.astype("str")):
        encoded = encode_series("patient_id", column)
        # Kept: the cells that may be too long (Arrow measures bytes, never fewer than
        # code points); a blank one is missing.
        for cell, code in zip(cells, encoded.codes.tolist(), strict=True):
            if code >= 0:
                assert encoded.cells[code] == cell
            else:
                assert len(cell) <= MAX_TEXT or not cell.strip()
        assert encoded.codes[0] == -1
        bad = ColumnValidator._bad_ids(encoded).tolist()
        assert bad == [False, True, False, False, True, True]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(1, len(CATEGORY_ORDER)), st.randoms())
def test_offered_cells_are_in_the_long_tables_order(rows: int, width: int, rng: Any) -> None:
    ranks = np.zeros((rows, width), dtype=np.int64)
    for row in range(rows):
        offered = [c for c in range(width) if rng.random() < 0.6]
        levels = sorted(rng.randint(1, max(1, len(offered))) for _ in offered)
        # Dense ranks among the offered, in any order of the categories.
        dense = {v: i + 1 for i, v in enumerate(sorted(set(levels)))}
        rng.shuffle(offered)
        for category, level in zip(offered, levels, strict=True):
            ranks[row, category] = dense[level]
    got_rows, got_categories, got_ranks = offered_in_order(ranks)
    want_rows, want_categories = np.nonzero(ranks)
    order = np.lexsort((want_categories, ranks[want_rows, want_categories], want_rows))
    want_rows, want_categories = want_rows[order], want_categories[order]
    assert got_rows.tolist() == want_rows.tolist()
    assert got_categories.tolist() == want_categories.tolist()
    assert got_ranks.tolist() == ranks[want_rows, want_categories].tolist()


def test_the_tables_keep_their_dtypes() -> None:
    frame = pd.DataFrame(
        [
            {**BASE, "patient_id": "p0"},
            {**BASE, "patient_id": "p1", "er_status": "wrong"},
            {"patient_id": "p2", "her2_status": "positive", "metastatic_sites": ["liver"]},
        ]
    )
    out = evaluate_frame(frame, verify=0)
    assert [str(t) for t in out.long.dtypes] == [
        "object",
        "category",
        "int64",
        "object",
        "object",
        "object",
    ]
    assert out.long["category"].cat.categories.tolist() == list(CATEGORY_ORDER)
    assert out.long["category"].cat.codes.dtype == np.int8
    assert out.long.index.dtype == np.int64
    assert not isinstance(out.long.index, pd.RangeIndex)
    assert isinstance(out.wide.index, pd.RangeIndex)
    assert [str(t) for t in out.wide.dtypes] == ["object"] + ["Int64"] * len(CATEGORY_ORDER)
    assert out.wide.loc[1, list(CATEGORY_ORDER)].isna().all()
    assert all(isinstance(a, tuple) for a in out.long["agents"])
    assert all(isinstance(s, tuple) for s in out.long["source_ids"])
    assert out.errors.index.tolist() == [1]
    assert out.errors["field"].tolist() == ["er_status"]


@pytest.mark.parametrize(
    "index",
    [
        pd.RangeIndex(3),
        pd.RangeIndex(3, name="row"),
        pd.RangeIndex(10, 19, 3),
        pd.Index([5, 1, 7], name="n"),
        pd.Index(["a", "b", "c"]),
    ],
)
def test_the_long_index_is_the_rows_labels(index: pd.Index) -> None:
    frame = pd.DataFrame(
        [BASE, {**BASE, "er_status": "negative"}, {"her2_status": "positive"}], index=index
    )
    out = evaluate_frame(frame, verify=0)
    positions = out._long_positions
    expected = index.take(positions)
    assert out.long.index.equals(expected)
    assert type(out.long.index) is type(expected)
    assert out.long.index.name == index.name
    assert out.long.index.dtype == expected.dtype
    assert out.wide.index is index or out.wide.index.equals(index)
    assert out.wide["patient_id"].tolist() == list(index)
    assert sorted(set(positions.tolist())) == [0, 1, 2]

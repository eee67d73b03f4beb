"""Histories read entry by entry (cohort/histories.py) read as the profile reads them.

Every cell, however odd, must give the same validated history as ``PatientProfile`` gives it,
or be invalid exactly when the profile rejects it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mbc_rules import Rulebase
from mbc_rules.cohort.reading import MISSING, ColumnValidator, cell_value
from mbc_rules.profile import PatientProfile

AGENTS = ("letrozole", "Femara", "paclitaxel", "yoga", "no such drug", "", "trastuzumab")
VALUES = st.one_of(
    st.sampled_from(["progressed", "completed", "ongoing", "intolerant", "unknown", "bad"]),
    st.sampled_from(["metastatic", "early"]),
    st.integers(-1, 60),
    st.booleans(),
    st.floats(allow_nan=True),
    st.none(),
    st.builds(np.str_, st.sampled_from(["progressed", "early"])),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
    st.integers(min_value=2**63, max_value=2**70),
    st.text(max_size=300),
)
ENTRY = st.one_of(
    st.fixed_dictionaries(
        {"agent": st.sampled_from(AGENTS)},
        optional={
            "outcome": VALUES,
            "setting": VALUES,
            "line": VALUES,
            "dose": VALUES,
        },
    ),
    st.sampled_from(["letrozole", 3, None]),
)
CELL = st.one_of(
    st.lists(ENTRY, max_size=5),
    st.none(),
    st.just(float("nan")),
    st.sampled_from(["Femara; Faslodex", "", "letrozole", "Femara;;"]),
    st.lists(st.just({"agent": "letrozole", "outcome": "progressed"}), min_size=99, max_size=102),
)


def _expected(cell: Any, rulebase: Rulebase) -> Any:
    value = cell_value("prior_therapies", cell)
    mapping = {} if value is MISSING else {"prior_therapies": value}
    try:
        profile = PatientProfile.model_validate(
            mapping, context={"vocabulary": rulebase.vocabulary}
        )
    except ValidationError:
        return "invalid"
    history = profile.prior_therapies
    return None if history is None else tuple(history)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELL, min_size=1, max_size=8))
def test_each_cell_reads_as_the_profile_reads_it(cells: list[Any]) -> None:
    rulebase = Rulebase.bundled()
    validator = ColumnValidator(rulebase.vocabulary)
    # Twice over: the second reading comes from what the first remembered.
    for _ in range(2):
        codes, bad = validator.histories.read(cells)
        for cell, code, invalid in zip(cells, codes.tolist(), bad.tolist(), strict=True):
            want = _expected(cell, rulebase)
            got = "invalid" if invalid else validator.histories.values[code]
            assert got == want, cell


def test_an_entry_is_validated_once_however_many_cells_hold_it() -> None:
    rulebase = Rulebase.bundled()
    validator = ColumnValidator(rulebase.vocabulary)
    cells = [
        [{"agent": "Femara", "outcome": "progressed"}, {"agent": f"{drug}"}]
        for drug in ("paclitaxel", "capecitabine", "eribulin")
    ] * 100
    codes, bad = validator.histories.read(cells)
    assert not bad.any()
    assert len(set(codes.tolist())) == 3
    assert len(validator.histories.therapies) == 4
    first = validator.histories.values[int(codes[0])]
    assert first is not None
    assert first[0].agent == "letrozole"


def test_a_drug_listed_twice_is_checked_as_the_profile_checks_it() -> None:
    rulebase = Rulebase.bundled()
    validator = ColumnValidator(rulebase.vocabulary)
    contradicting = [
        {"agent": "letrozole", "outcome": "ongoing"},
        {"agent": "Femara", "outcome": "progressed"},
    ]
    twice = [
        {"agent": "letrozole", "setting": "early", "outcome": "progressed"},
        {"agent": "letrozole", "outcome": "progressed"},
    ]
    codes, bad = validator.histories.read([contradicting, twice])
    assert bad.tolist() == [True, False]
    assert len(validator.histories.values[int(codes[1])] or ()) == 2


def test_values_that_compare_equal_are_told_apart_by_type() -> None:
    rulebase = Rulebase.bundled()
    validator = ColumnValidator(rulebase.vocabulary)
    cells: list[Any] = [
        [{"agent": "letrozole", "line": 1}],
        [{"agent": "letrozole", "line": True}],
        [{"agent": "letrozole", "line": 1.0}],
        [{"agent": "letrozole", "outcome": "progressed"}],
        [{"agent": np.str_("letrozole"), "outcome": np.str_("progressed")}],
    ]
    codes, bad = validator.histories.read(cells)
    assert bad.tolist() == [_expected(c, rulebase) == "invalid" for c in cells]
    assert bad.tolist() == [False, True, True, False, False]
    assert codes[3] == codes[4]


def test_past_the_bound_a_new_reader_reads_the_next_chunk_and_answers_do_not_change(
    monkeypatch: Any,
) -> None:
    """A long-lived process does not remember histories without end: past
    ``HISTORIES_KEPT`` the next chunk has a reader of its own, and every answer is what it
    was with every history remembered."""
    import random

    import pandas as pd

    from mbc_rules import evaluate_frame
    from mbc_rules.cohort import frames

    from .strategies import random_profile

    rng = random.Random(5)
    frame = pd.DataFrame([random_profile(rng) for _ in range(600)])
    expected = evaluate_frame(frame, rulebase=Rulebase.bundled(), verify=0).long
    monkeypatch.setattr(frames, "CHUNK_ROWS", 100)
    monkeypatch.setattr(ColumnValidator, "HISTORIES_KEPT", 150)
    readers: set[int] = set()
    real_read = ColumnValidator.read

    def read(self: ColumnValidator, *args: Any, **kwargs: Any) -> Any:
        found = real_read(self, *args, **kwargs)
        readers.add(id(found.histories))
        assert len(found.histories.entries) <= 150 + 100 + 1
        return found

    monkeypatch.setattr(ColumnValidator, "read", read)
    # A rulebase of its own: its cohort engine has not seen the histories above.
    got = evaluate_frame(frame, rulebase=Rulebase.bundled(engine="compiled"), verify=0).long
    assert len(readers) >= 3
    pd.testing.assert_frame_equal(got, expected)

"""Reading a frame as people have it: columns into profile fields, cells into values, validated.

One function says what a cell means (:func:`cell_value`); both the column-wise reader and the
row-by-row fallback use it, so a row reads the same whichever way it is taken:

* a missing cell (``None``, NaN, ``pd.NA``, ``""`` or blanks) leaves its field out, so the
  field's default (unknown) applies;
* numpy and Arrow containers become the list or number they hold;
* a list field also reads a delimited string (``"bone; lung"``, ``"bone,lung"``); in
  ``prior_therapies`` each name is a drug whose outcome is unknown;
* an id that is not text becomes its text in the profile (the tables keep the id as given).

Everything else is validated by :class:`PatientProfile` itself: a column is validated once per
distinct value (the fields that a model-level check reads together, once per distinct
combination), never once per row. A row with any invalid value is validated again on its own,
so that its errors are pydantic's own, field by field.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mbc_rules.cohort.codes import EncodedColumn, first_rows
from mbc_rules.cohort.histories import HistoryReader
from mbc_rules.profile import CHECKED_TOGETHER, PatientProfile, PriorTherapy
from mbc_rules.vocabulary import Vocabulary

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ID_FIELD = "patient_id"
THERAPY_FIELD = "prior_therapies"
FIELDS: tuple[str, ...] = tuple(PatientProfile.model_fields)


def _is_list_annotation(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        # ``list[...] | None`` with a length bound: prior_therapies, complications.
        return _is_list_annotation(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list_annotation(a) for a in typing.get_args(annotation))
    return False


LIST_FIELDS = frozenset(
    name
    for name, info in PatientProfile.model_fields.items()
    if _is_list_annotation(info.annotation)
)
_DELIMITER = re.compile(r"[;,]")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def is_missing(value: Any) -> bool:
    """An empty cell: None, NaN, pandas' NA or NaT, or text that is empty or blank."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return type(value).__name__ in ("NAType", "NaTType")


def all_text_none_blank(cells: Sequence[Any]) -> bool:
    """Whether every cell is text (``str`` or a subclass) and none is empty or blank, which is
    what a column of ids nearly always is: said in C, by ``str.isspace`` (which tells blank
    text as ``str.strip`` does) and one search for ``""``.
    """
    try:
        spaced = any(map(str.isspace, cells))
    except TypeError:  # not all text
        return False
    return not spaced and "" not in cells


def missing_cells(cells: Sequence[Any]) -> list[int]:
    """The positions of the cells that are missing (:func:`is_missing`)."""
    if all_text_none_blank(cells):
        return []
    return [i for i, cell in enumerate(cells) if is_missing(cell)]


_PLAIN_TYPES = frozenset({str, bytes, bool, int, float, type(None)})


def plain(value: Any) -> Any:
    """The Python value a frame's container holds (numpy arrays and scalars, Arrow scalars)."""
    if type(value) in _PLAIN_TYPES:  # the usual case, before the isinstance chain
        return value
    if isinstance(value, str | bytes | bool | int | float | type(None)):
        return value
    # A history cell is a list of dicts of text: its plain members are kept without a call.
    if isinstance(value, list | tuple):
        return [v if type(v) in _PLAIN_TYPES else plain(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN_TYPES else plain(v) for k, v in value.items()}
    for attribute in ("as_py", "tolist"):
        convert = getattr(value, attribute, None)
        if callable(convert):
            return plain(convert())
    return value


def cell_value(field: str, value: Any) -> Any:
    """What a cell says for ``field``: the value to validate, or MISSING."""
    if is_missing(value):
        return MISSING
    value = plain(value)
    if isinstance(value, float) and math.isnan(value):
        return MISSING
    if field in LIST_FIELDS and isinstance(value, str):
        items = [part.strip() for part in _DELIMITER.split(value)]
        names = [item for item in items if item]
        return [{"agent": n} for n in names] if field == THERAPY_FIELD else names
    if field == ID_FIELD and not isinstance(value, str):
        return str(value)
    return value


def row_mapping(cells: Mapping[str, Any]) -> dict[str, Any]:
    """A profile mapping from a row's cells (profile fields only)."""
    out = {}
    for field, raw in cells.items():
        value = cell_value(field, raw)
        if value is not MISSING:
            out[field] = value
    return out


def field_errors(error: ValidationError) -> list[tuple[str, Any, str]]:
    """(field, value, message) for each of pydantic's errors."""
    return [
        (".".join(str(p) for p in e["loc"]) or "(profile)", e.get("input"), e["msg"])
        for e in error.errors()
    ]


def key_of(value: Any) -> Any:
    """A hashable key that tells apart every two cells that could validate differently."""
    kind = type(value)
    if kind is str:
        return value
    if kind is list:
        return ("r", repr(value))
    if is_missing(value):
        return None
    if isinstance(value, list | tuple | dict) or hasattr(value, "tolist"):
        # repr tells True from 1 and "1" from 1 at any depth, in C, for builtin values.
        return ("r", repr(plain(value)))
    try:
        hash(value)
    except TypeError:
        return ("r", repr(value))
    return (type(value).__name__, value)


def encode_series(field: str, series: pd.Series) -> EncodedColumn:
    """Factorise one column into codes and distinct cells, in C where the dtype allows."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if field == ID_FIELD:
        ids = _encode_ids(series)
        if ids is not None:
            return ids
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy(dtype=np.int64)
        cells = list(series.cat.categories)
    elif isinstance(dtype, pd.ArrowDtype) or getattr(dtype, "storage", None) == "pyarrow":
        from mbc_rules.cohort.arrow import encode_arrow

        encoded = encode_arrow(field, series, structured=field == THERAPY_FIELD)
        if encoded is None:
            return _encode_objects(field, series.to_numpy(dtype=object))
        return _blank_as_missing(encoded)
    elif dtype != np.dtype(object):
        codes_, uniques = pd.factorize(series, use_na_sentinel=True)
        codes = np.asarray(codes_, dtype=np.int64)
        cells = (
            list(uniques.to_numpy(dtype=object)) if hasattr(uniques, "to_numpy") else list(uniques)
        )
    else:
        return _encode_objects(field, series.to_numpy(dtype=object))
    return _blank_as_missing(EncodedColumn(field, codes, cells))


def _encode_ids(series: pd.Series) -> EncodedColumn | None:
    """The id column as the validator reads it (None: encode it as any other column).

    Ids are not facts: an id fails only when its text is longer than ``MAX_TEXT`` (see
    :meth:`ColumnValidator._bad_ids`). So for a column of text, each cell is measured in C
    (Arrow: its size in bytes, never less than its length), and only the cells longer than
    that are kept, one per such row; every other row's code is -1, as if missing (it cannot
    fail). Nothing is factorised, and no Python object is made for the other cells.
    """
    import numpy as np
    import pandas as pd

    from mbc_rules.profile import MAX_TEXT

    dtype = series.dtype
    cells: list[Any]
    if isinstance(dtype, pd.ArrowDtype) or getattr(dtype, "storage", None) == "pyarrow":
        from mbc_rules.cohort.arrow import text_sizes

        measured = text_sizes(series)
        if measured is None:
            return None
        lengths, array = measured
        long = np.flatnonzero(lengths > MAX_TEXT)
        cells = array.take(long).to_pylist() if len(long) else []
    elif dtype == np.dtype(object):
        values = series.to_numpy(dtype=object)
        if not set(map(type, values)) <= {str}:
            return None
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        long = np.flatnonzero(lengths > MAX_TEXT)
        cells = values[long].tolist()
    else:
        return None
    codes = np.full(len(series), -1, dtype=np.int64)
    codes[long] = np.arange(len(long), dtype=np.int64)
    return _blank_as_missing(EncodedColumn(ID_FIELD, codes, cells))


def _encode_objects(field: str, values: np.ndarray) -> EncodedColumn:
    import numpy as np
    import pandas as pd

    if field == THERAPY_FIELD:
        # Not factorised: a history is read entry by entry (cohort/histories.py), and one
        # that repeats is found by its entries' codes, cheaper than by its repr. Nor are
        # its blank cells looked for here: a cell that is not a list is read there as the
        # row path reads it, an empty one as not given.
        return EncodedColumn(field, np.arange(len(values), dtype=np.int64), list(values))
    if field in LIST_FIELDS:
        # A list of text equals only a list of the same text; lists with anything else in them
        # are invalid whichever they are, and the row path reports each of them exactly.
        # (np.fromiter keeps each tuple whole, and is twice as fast as assigning a list.)
        keys = np.fromiter(
            [tuple(v) if type(v) is list else v if type(v) is str else key_of(v) for v in values],
            dtype=object,
            count=len(values),
        )
    elif len(set(map(type, values))) <= 1:
        keys = values
    else:
        keys = np.fromiter(
            [v if type(v) is str else key_of(v) for v in values], dtype=object, count=len(values)
        )
    try:
        codes_, uniques = pd.factorize(keys, use_na_sentinel=True)
    except TypeError:  # unhashable cells (a list where text belongs, a dict in a list)
        keys = np.fromiter(map(key_of, values), dtype=object, count=len(values))
        codes_, uniques = pd.factorize(keys, use_na_sentinel=True)
    codes = np.asarray(codes_, dtype=np.int64)
    count = int(codes.max()) + 1 if len(codes) else 0
    first = first_rows(codes, count)
    cells = [values[i] for i in first]
    if field == ID_FIELD:
        return _blank_as_missing(EncodedColumn(field, codes, cells))
    typed = [u if type(u) is str or type(u) is tuple else (type(u).__name__, u) for u in uniques]
    return _blank_as_missing(EncodedColumn(field, codes, cells, typed))


def _blank_as_missing(column: EncodedColumn) -> EncodedColumn:
    import numpy as np

    blank = missing_cells(column.cells)
    if blank:
        lookup = np.arange(len(column.cells), dtype=np.int64)
        lookup[blank] = -1
        codes = np.where(column.codes >= 0, lookup[np.maximum(column.codes, 0)], -1)
        column = EncodedColumn(column.field, codes, column.cells, column.keys)
    return column


def _canonical(value: Any) -> Any:
    # Validated values: text, numbers, None, lists of text or of frozen (hashable) models.
    return tuple(value) if isinstance(value, list) else value


@dataclass
class ReadColumns:
    """Validated columns: for each field, a code per row into its distinct validated values."""

    codes: dict[str, np.ndarray]
    values: dict[str, Sequence[Any]]
    invalid: np.ndarray  # rows to validate again on their own
    # What the history codes stand for: by history code, the codes of its entries into
    # ``histories.therapies``.
    histories: HistoryReader


class ColumnValidator:
    """Validates distinct cells with :class:`PatientProfile`, remembering every answer."""

    # The distinct histories remembered before a new reader starts (each costs ~150 bytes
    # here and ~100 in the columnar engine's tables).
    HISTORIES_KEPT = 1_000_000

    def __init__(self, vocabulary: Vocabulary) -> None:
        self._context = {"vocabulary": vocabulary}
        self._outcomes: dict[tuple[tuple[str, ...], tuple[Any, ...]], dict[str, Any] | None] = {}
        self._canonical: dict[str, dict[Any, int]] = {}
        # Each field's distinct validated values, by code (histories: the reader's).
        self._canonical_values: dict[str, Sequence[Any]] = {}
        self.defaults = dict(PatientProfile.model_construct())
        self.histories = HistoryReader(vocabulary, self._whole_history)
        self._canonical_values[THERAPY_FIELD] = self.histories.values

    def _whole_history(self, cell: Any) -> list[PriorTherapy] | int | None:
        outcome = self._validate((THERAPY_FIELD,), [cell], (key_of(cell),))
        if outcome is None:
            return -1
        therapies: list[PriorTherapy] | None = outcome[THERAPY_FIELD]
        return therapies

    def _validate(
        self, fields: Sequence[str], cells: Sequence[Any], keys: tuple[Any, ...]
    ) -> dict[str, Any] | None:
        key = (tuple(fields), keys)
        if key in self._outcomes:
            return self._outcomes[key]
        mapping = {}
        for field, cell in zip(fields, cells, strict=True):
            value = cell_value(field, cell)
            if value is not MISSING:
                mapping[field] = value
        try:
            profile = PatientProfile.model_validate(mapping, context=self._context)
        except ValidationError:
            outcome = None
        else:
            outcome = {field: getattr(profile, field) for field in fields}
        if len(self._outcomes) < 1_000_000:
            self._outcomes[key] = outcome
        return outcome

    @staticmethod
    def _bad_ids(column: EncodedColumn) -> np.ndarray:
        # Ids are not facts: a row only needs to know whether its id would validate, and an
        # id validates when its text is short enough (the row path then reports the rest).
        import numpy as np

        from mbc_rules.profile import MAX_TEXT

        lengths = np.fromiter(
            (len(c) if type(c) is str else len(str(plain(c))) for c in column.cells),
            dtype=np.int64,
            count=len(column.cells),
        )
        too_long: np.ndarray = np.append(lengths > MAX_TEXT, False)
        bad: np.ndarray = too_long[column.codes]
        return bad

    def _code(self, field: str, value: Any) -> int:
        table = self._canonical.setdefault(field, {})
        key = _canonical(value)
        code = table.get(key)
        if code is None:
            code = table[key] = len(table)
            values = self._canonical_values.setdefault(field, [])
            assert isinstance(values, list)  # histories, the one other kind, are not coded here
            values.append(value)
        return code

    def read(self, columns: Mapping[str, EncodedColumn], rows: int) -> ReadColumns:
        """Validate every field; fields without a column take their default."""
        import numpy as np

        from mbc_rules.cohort.codes import combine

        if len(self.histories.entries) > self.HISTORIES_KEPT:
            # A long-lived process reads histories without end: past the bound, the next
            # chunk is read by a new reader (the engine follows its codes from scratch).
            self.histories = HistoryReader(self.histories.vocabulary, self._whole_history)
            self._canonical_values[THERAPY_FIELD] = self.histories.values
        codes: dict[str, np.ndarray] = {}
        invalid = np.zeros(rows, dtype=bool)
        grouped = {f for group in CHECKED_TOGETHER for f in group}
        groups = [tuple(f for f in g if f in columns) for g in CHECKED_TOGETHER]
        groups = [g for g in groups if g]
        groups += [(f,) for f in columns if f not in grouped and f != ID_FIELD]
        if ID_FIELD in columns:
            invalid |= self._bad_ids(columns[ID_FIELD])
        for group in groups:
            if group == (THERAPY_FIELD,):
                column = columns[THERAPY_FIELD]
                history, bad_cell = self.histories.read(column.cells)
                codes[THERAPY_FIELD] = np.append(history, HistoryReader.NOT_GIVEN)[column.codes]
                invalid |= np.append(bad_cell, False)[column.codes]
                continue
            members = [columns[f] for f in group]
            combo, first = combine([m.codes for m in members], [len(m.cells) + 1 for m in members])
            for field in group:
                codes[field] = np.empty(len(first), dtype=np.int64)
            bad = np.zeros(len(first), dtype=bool)
            member_codes = [m.codes[first].tolist() for m in members]
            for index in range(len(first)):
                at = [c[index] for c in member_codes]
                cells = [m.cells[c] if c >= 0 else None for m, c in zip(members, at, strict=True)]
                keys = tuple(m.key(c, key_of) for m, c in zip(members, at, strict=True))
                outcome = self._validate(group, cells, keys)
                if outcome is None:
                    bad[index] = True
                    outcome = {field: self.defaults[field] for field in group}
                for field in group:
                    codes[field][index] = self._code(field, outcome[field])
            for field in group:
                codes[field] = codes[field][combo]
            invalid |= bad[combo]
        for field in FIELDS:
            if field == THERAPY_FIELD and field not in codes:
                codes[field] = np.full(rows, HistoryReader.NOT_GIVEN, np.int64)
            elif field not in codes:
                codes[field] = np.full(rows, self._code(field, self.defaults[field]), np.int64)
        return ReadColumns(
            codes,
            # A copy: what a chunk's codes stand for stays as it was read, whatever reader
            # reads the next chunk (each field's values are only ever added to).
            dict(self._canonical_values),
            invalid,
            self.histories,
        )


def frame_reader(frame: pd.DataFrame, columns: Sequence[str]) -> Callable[[int], dict[str, Any]]:
    """A function from a row position to that row's profile mapping (for the row path)."""
    series = {name: frame.iloc[:, position] for position, name in enumerate(frame.columns)}
    wanted = [(str(name), s) for name, s in series.items() if str(name) in columns]

    def read(position: int) -> dict[str, Any]:
        return row_mapping({name: s.iat[position] for name, s in wanted})

    return read

"""Codes: a column as distinct values and a code per row, and combinations of such columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

_INT62 = 1 << 62


@dataclass
class EncodedColumn:
    """A column as distinct cells: ``codes[row]`` indexes ``cells`` (-1: missing)."""

    field: str
    codes: np.ndarray
    cells: list[Any]
    keys: list[Any] | None = None  # hashable, one per cell: how validations are remembered

    def key(self, code: int, key_of: Callable[[Any], Any]) -> Any:
        """The key of cell ``code`` (None for a missing cell); ``key_of`` makes one if needed."""
        if code < 0:
            return None
        return self.keys[code] if self.keys is not None else key_of(self.cells[code])


def first_rows(codes: np.ndarray, count: int) -> np.ndarray:
    """For each code in ``range(count)``, the first row that has it (-1 where none does)."""
    import numpy as np

    first = np.full(count, -1, dtype=np.int64)
    seen = codes >= 0
    positions = np.flatnonzero(seen)
    # Writing in reverse leaves each code's first row.
    first[codes[positions][::-1]] = positions[::-1]
    return first


def combine(codes: Sequence[np.ndarray], radices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """One code per row for the combination of several code columns (-1 allowed in each).

    Returns the combined codes and, for each combined code, the first row that has it.
    """
    import numpy as np
    import pandas as pd

    if not codes:
        raise ValueError("nothing to combine")
    key = codes[0].astype(np.int64) + 1
    bound = radices[0] + 1
    for column, radix in zip(codes[1:], radices[1:], strict=True):
        if bound * (radix + 1) >= _INT62:
            key_, uniques = pd.factorize(key)
            key, bound = np.asarray(key_, dtype=np.int64), len(uniques)
        key = key * (radix + 1) + (column.astype(np.int64) + 1)
        bound *= radix + 1
    combined_, uniques = pd.factorize(key)
    combined = np.asarray(combined_, dtype=np.int64)
    return combined, first_rows(combined, len(uniques))

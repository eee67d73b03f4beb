"""A cohort's input: a frame, an Arrow table or a Parquet path, its profile columns and row ids."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from mbc_rules.cohort.reading import FIELDS, ID_FIELD, all_text_none_blank, missing_cells
from mbc_rules.errors import MbcRulesError
from mbc_rules.extras import optional, pandas_module

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ExtraMode = Literal["ignore", "forbid"]


def as_frame(data: Any) -> pd.DataFrame:
    """The cohort as a pandas frame: a frame as it is, an Arrow table or a Parquet path read."""
    pandas = optional("pandas", "pandas")
    if isinstance(data, pandas.DataFrame):
        return cast("pd.DataFrame", data)
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if path.suffix.lower() not in (".parquet", ".pq"):
            raise MbcRulesError(f"{path}: only Parquet files are read directly (.parquet)")
        pq = optional("pyarrow.parquet", "pyarrow")
        data = pq.read_table(path)
    module = type(data).__module__
    if module.startswith("pyarrow"):
        from mbc_rules.cohort.arrow import arrow_to_frame

        return arrow_to_frame(data)
    raise MbcRulesError(
        "a cohort is a pandas DataFrame, an Arrow table or a Parquet path, "
        f"not {type(data).__name__}"
    )


def profile_columns(frame: pd.DataFrame, extra: ExtraMode) -> list[str]:
    """The frame's columns that are profile fields (``extra`` says what to do with others)."""
    names = [str(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MbcRulesError(f"the frame has more than one column named {', '.join(repeated)}")
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        if extra == "forbid":
            raise MbcRulesError(
                f"columns that are not profile fields: {', '.join(unknown)} "
                "(extra='ignore' reads the frame without them)"
            )
        if extra != "ignore":
            raise ValueError(f"extra must be 'ignore' or 'forbid', not {extra!r}")
        warnings.warn(
            f"columns that are not profile fields are ignored: {', '.join(unknown)}",
            UserWarning,
            stacklevel=4,
        )
    return [n for n in names if n in FIELDS]


def row_ids(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The id of each row: its patient_id cell, or its index label where that is empty."""
    import numpy as np

    if ID_FIELD not in names:
        return frame.index.to_numpy(dtype=object)
    cells = frame.iloc[:, list(map(str, frame.columns)).index(ID_FIELD)].to_numpy(dtype=object)
    ids = cells.copy()
    listed = cells.tolist()
    if all_text_none_blank(listed):  # the usual case: no id is missing, nor NA
        return ids
    missing = np.asarray(pandas_module().isna(cells), dtype=bool)
    missing[missing_cells(listed)] = True
    if missing.any():
        labels = frame.index.to_numpy(dtype=object)
        ids[missing] = labels[missing]
    return ids


def repeated_ids(ids: np.ndarray) -> np.ndarray:
    """Which rows share their id with another row."""
    import numpy as np

    pandas = pandas_module()
    try:
        return np.asarray(pandas.Series(ids, dtype=object).duplicated(keep=False), dtype=bool)
    except TypeError:  # an unhashable id: compare by identity there
        keys = [k if _hashable(k) else ("unhashable", id(k)) for k in ids]
        series = pandas.Series(keys, dtype=object)
        return np.asarray(series.duplicated(keep=False), dtype=bool)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True

"""Cohorts in partitions, for distributed engines (Dask ``map_partitions``, Spark
``mapInPandas``): one pass gives the long table and the failed rows together.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, cast

from mbc_rules.cohort.frames import evaluate_frame
from mbc_rules.cohort.tables import LONG_COLUMNS
from mbc_rules.cohort.verify import DEFAULT_VERIFY
from mbc_rules.extras import pandas_module
from mbc_rules.rulebase import Rulebase

if TYPE_CHECKING:
    import pandas as pd


PARTITION_COLUMNS = (*LONG_COLUMNS, "error")


def partition_meta() -> pd.DataFrame:
    """An empty frame with the columns and dtypes of :func:`evaluate_partition`'s output."""
    pandas = pandas_module()
    frame = pandas.DataFrame(
        {
            "patient_id": pandas.Series(dtype="object"),
            "category": pandas.Series(dtype="object"),
            "rank": pandas.Series(dtype="Int64"),
            "tier": pandas.Series(dtype="object"),
            "agents": pandas.Series(dtype="object"),
            "source_ids": pandas.Series(dtype="object"),
            "error": pandas.Series(dtype="object"),
        }
    )
    return cast("pd.DataFrame", frame)


def evaluate_partition(
    frame: pd.DataFrame, rulebase: Rulebase | None = None, *, verify: int = DEFAULT_VERIFY
) -> pd.DataFrame:
    """One pass over a partition, for distributed engines: the long table and the failed rows.

    The columnar engine evaluates the partition. Rows that evaluate give one row per offered
    category with ``error`` empty; each problem of a row that fails gives one row with only
    ``patient_id`` and ``error``. Use it as a Dask ``map_partitions`` function
    (``meta=partition_meta()``) or inside a Spark ``mapInPandas`` function; the rulebase
    pickles and rebuilds its engine in each worker process.
    """
    pandas = pandas_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # extra columns: the caller's choice
        out = evaluate_frame(frame, rulebase=rulebase, errors="collect", verify=verify)
    long = out.long.astype({"category": object})
    messages = zip(out.errors["field"], out.errors["message"], strict=True)
    failed = pandas.DataFrame(
        {
            "patient_id": out.errors["patient_id"],
            "error": [f"{f}: {m}" for f, m in messages],
        },
        columns=["patient_id", "error"],
    )
    parts = [part for part in (long, failed) if len(part)]
    if not parts:
        return partition_meta()
    combined = pandas.concat(parts, ignore_index=True)
    combined = combined.reindex(columns=list(PARTITION_COLUMNS))
    combined["rank"] = combined["rank"].astype("Int64")
    for column in ("patient_id", "category", "tier", "agents", "source_ids", "error"):
        combined[column] = combined[column].astype("object")
    return cast("pd.DataFrame", combined)

"""Cohorts: many profiles at once, as plain records, pandas frames, Arrow tables or Parquet.

The columnar engine evaluates them (see :mod:`mbc_rules.cohort.columnar`); rows that fail
validation do not stop a run when ``errors="collect"``: they are returned with their id, field,
value and message. pandas (``mbc-rules[pandas]``), pyarrow (``[pyarrow]``), tqdm
(``[progress]``) and matplotlib (``[plot]``) are optional and imported only when used.
"""

from __future__ import annotations

from mbc_rules.cohort.concordance import ConcordanceResult, concordance
from mbc_rules.cohort.diff import RuleDiff, diff
from mbc_rules.cohort.frames import evaluate_frame, evaluate_many
from mbc_rules.cohort.partitions import PARTITION_COLUMNS, evaluate_partition, partition_meta
from mbc_rules.cohort.rows import CohortResult, RowError
from mbc_rules.cohort.tables import ERROR_COLUMNS, LONG_COLUMNS, FrameResult
from mbc_rules.cohort.verify import VerificationError
from mbc_rules.cohort_summary import CohortSummary

__all__ = [
    "ERROR_COLUMNS",
    "LONG_COLUMNS",
    "PARTITION_COLUMNS",
    "CohortResult",
    "CohortSummary",
    "ConcordanceResult",
    "FrameResult",
    "RowError",
    "RuleDiff",
    "VerificationError",
    "concordance",
    "diff",
    "evaluate_frame",
    "evaluate_many",
    "evaluate_partition",
    "partition_meta",
]

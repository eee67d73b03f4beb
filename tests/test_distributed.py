"""A cohort too large for one machine runs on Dask: the same answer as a serial run."""

from __future__ import annotations

import pickle

import dask
import dask.dataframe as dd
import distributed
import pandas as pd
import pytest

from mbc_rules import Rulebase
from mbc_rules.cohort import evaluate_partition, partition_meta

from .test_cohort import synthetic

pytestmark = pytest.mark.slow


def test_a_rulebase_pickles_and_rebuilds_its_engine() -> None:
    rulebase = Rulebase.bundled()
    again = pickle.loads(pickle.dumps(rulebase))
    profile = synthetic(1)[0]
    assert again.evaluate(profile) == rulebase.evaluate(profile)
    assert again.engine == rulebase.engine


def test_dask_local_cluster_with_two_worker_processes_matches_serial() -> None:
    rows = synthetic(3000, seed=11)
    rows[10]["er_status"] = "HER2+"
    frame = pd.DataFrame(rows)
    serial = evaluate_partition(frame)
    rulebase = Rulebase.bundled()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        # Dask would otherwise turn list cells (sites, prior therapies) into their string form.
        with dask.config.set({"dataframe.convert-string": False}):
            parts = dd.from_pandas(frame, npartitions=6)
        result = parts.map_partitions(evaluate_partition, rulebase, meta=partition_meta())
        distributed_frame = result.compute()
    key = ["patient_id", "category"]
    left = serial.sort_values(key, na_position="first").reset_index(drop=True)
    right = distributed_frame.sort_values(key, na_position="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    assert right["error"].notna().sum() == 1

"""The durable-rules oracle of a cohort's sample check, and the compiled twin of tracing, are
each rulebase's own, and go with it.

They were kept by ``id(rulebase)`` in plain dicts: never let go, and a new rulebase built at
a freed one's address was handed the old one's oracle, with other rules.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from mbc_rules import Rulebase
from mbc_rules.cohort import tracing, verify
from mbc_rules.engine import _import_durable

from .conftest import write_rules
from .test_rule_errors import GOOD_RULE

DURABLE = _import_durable() is not None


def collect() -> None:
    # A rulebase sits in a reference cycle (its memoised answer is a bound method): the first
    # pass frees the rulebase, and so its entry; the second its oracle, in a cycle of its own.
    gc.collect()
    gc.collect()


def own_rules(directory: Path, title: str) -> Rulebase:
    directory.mkdir()
    write_rules(directory, "local.yaml", GOOD_RULE.replace("A rule of one's own.", title))
    return Rulebase.load(directory, engine="python")


@pytest.mark.skipif(not DURABLE, reason="durable-rules does not import here")
def test_each_rulebase_has_its_own_oracle_and_it_goes_with_it(tmp_path: Path) -> None:
    first = own_rules(tmp_path / "a", "The first rule set.")
    second = own_rules(tmp_path / "b", "The second rule set.")
    assert first.content_hash != second.content_hash
    oracle = verify.durable_oracle(first)
    assert oracle.engine == "durable"
    assert oracle.content_hash == first.content_hash
    assert verify.durable_oracle(first) is oracle  # built once per rulebase
    assert verify.durable_oracle(second).content_hash == second.content_hash
    assert [r.title for r in verify.durable_oracle(second).rules] == ["The second rule set."]
    gone = weakref.ref(oracle)
    del first, oracle
    collect()
    assert gone() is None  # let go with its rulebase
    assert all(r.content_hash == k.content_hash for k, r in verify._ORACLES.items())


def test_the_compiled_twin_is_the_rulebase_own_and_goes_with_it(tmp_path: Path) -> None:
    rulebase = own_rules(tmp_path / "a", "A rule set traced.")
    twin = tracing._fast(rulebase)
    assert twin.engine == "compiled"
    assert twin.content_hash == rulebase.content_hash
    assert tracing._fast(rulebase) is twin
    assert tracing._fast(twin) is twin
    gone = weakref.ref(twin)
    del rulebase, twin
    collect()
    assert gone() is None


def test_with_engine_keeps_the_rules_hash_and_version(tmp_path: Path) -> None:
    rulebase = own_rules(tmp_path / "a", "A rule set moved.")
    moved = rulebase.with_engine("compiled")
    assert moved.engine == "compiled"
    assert moved.rules == rulebase.rules
    assert (moved.content_hash, moved.version) == (rulebase.content_hash, rulebase.version)
    profile = {"her2_status": "positive"}
    assert moved.evaluate(profile).digest == rulebase.evaluate(profile).digest

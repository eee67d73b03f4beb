"""The engine traps of durable-rules 2.0.28, designed against."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from mbc_rules import Rulebase
from mbc_rules.engine import _import_durable

from .conftest import ENGINES, RULES_DIR

HR_POSITIVE = {"er_status": "positive", "her2_status": "negative", "metastatic_sites": ["bone"]}


def test_every_matching_rule_fires_not_only_the_first(rulebase: Rulebase) -> None:
    fired = rulebase.evaluate(HR_POSITIVE).fired_rules
    assert {
        "hr-positive-endocrine-first",
        "bone-modifying-drugs",
        "palliative-care-alongside",
    } <= set(fired)


def test_a_profile_that_matches_no_rule_gives_an_empty_answer(tmp_path: Path) -> None:
    (tmp_path / "only.yaml").write_text(
        (RULES_DIR / "her2_positive.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for engine in ENGINES:
        local = Rulebase.load(tmp_path, engine=engine)  # type: ignore[arg-type]
        result = local.evaluate({"her2_status": "negative", "er_status": "negative"})
        assert result.options == ()
        assert result.fired_rules == ()


@pytest.mark.skipif(_import_durable() is None, reason="durable-rules does not import here")
def test_thousands_of_evaluations_leave_no_sessions_behind() -> None:
    # durable-rules raises MemoryError after about a thousand sessions that were not deleted.
    rulebase = Rulebase.bundled(engine="durable")
    for i in range(3000):
        sites = ["bone"] if i % 2 else ["liver"]
        result = rulebase.evaluate({**HR_POSITIVE, "metastatic_sites": sites})
        assert ("bone-modifying-drugs" in result.fired_rules) is (i % 2 == 1)


def test_two_rulebases_with_different_rules_coexist(tmp_path: Path) -> None:
    (tmp_path / "her2.yaml").write_text(
        (RULES_DIR / "her2_positive.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for engine in ENGINES:
        small = Rulebase.load(tmp_path, engine=engine)  # type: ignore[arg-type]
        full = Rulebase.bundled(engine=engine)  # type: ignore[arg-type]
        profile = {"her2_status": "positive", "er_status": "positive"}
        small_ids = {rule.id for rule in small.rules}
        first = small.evaluate(profile).fired_rules
        assert first
        assert set(first) <= small_ids
        assert "hr-positive-endocrine-first" in full.evaluate(profile).fired_rules
        assert small.evaluate(profile).fired_rules == first


def test_concurrent_evaluations_never_mix(rulebase: Rulebase) -> None:
    profiles = [
        {"er_status": s, "pr_status": "negative", "her2_status": h, "metastatic_sites": sites}
        for s in ("positive", "negative", "unknown")
        for h in ("positive", "negative", "unknown")
        for sites in (["bone"], ["liver"], [])
    ]
    expected = [rulebase.evaluate(p).model_dump_json() for p in profiles]
    failures: list[str] = []

    def worker(offset: int) -> None:
        for round_ in range(20):
            for i in range(len(profiles)):
                j = (i + offset + round_) % len(profiles)
                if rulebase.evaluate(profiles[j]).model_dump_json() != expected[j]:
                    failures.append(f"profile {j}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_engines_agree_on_every_rule_example() -> None:
    if "durable" not in ENGINES:
        pytest.skip("durable-rules does not import here")
    python, durable = Rulebase.bundled(engine="python"), Rulebase.bundled(engine="durable")
    for rule in python.rules:
        for example in rule.examples:
            assert python.fired_rules(example.profile) == durable.fired_rules(example.profile)


def varied_profiles(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    statuses = ("positive", "negative", "unknown")
    drugs = ("letrozole", "tamoxifen", "trastuzumab", "paclitaxel", "fulvestrant", "capecitabine")
    return [
        {
            "er_status": rng.choice(statuses),
            "pr_status": rng.choice(statuses),
            "her2_status": rng.choice(statuses),
            "brca_status": rng.choice(statuses),
            "pik3ca_status": rng.choice(statuses),
            "pdl1_status": rng.choice(statuses),
            "menopausal_status": rng.choice(("premenopausal", "postmenopausal", "unknown")),
            "metastatic_sites": rng.sample(("bone", "liver", "lung", "brain", "spine"), 2),
            "prior_therapies": [
                {"agent": d, "outcome": rng.choice(("progressed", "completed"))}
                for d in rng.sample(drugs, rng.randint(0, 3))
            ],
        }
        for _ in range(count)
    ]


@pytest.mark.slow
def test_eight_threads_of_a_thousand_profiles_each_match_a_serial_run() -> None:
    rulebase = Rulebase.bundled()  # durable-rules where it imports: the engine with state
    batches = [varied_profiles(1000, seed) for seed in range(8)]
    serial = [[rulebase.evaluate(p).model_dump_json() for p in batch] for batch in batches]
    threaded: list[list[str]] = [[] for _ in batches]

    def worker(index: int) -> None:
        threaded[index] = [rulebase.evaluate(p).model_dump_json() for p in batches[index]]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert threaded == serial


def test_two_rulebases_used_alternately_from_threads_stay_independent(tmp_path: Path) -> None:
    (tmp_path / "her2.yaml").write_text(
        (RULES_DIR / "her2_positive.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    small, full = Rulebase.load(tmp_path), Rulebase.bundled()
    profiles = varied_profiles(200, 99)
    expected = {id(rb): [rb.evaluate(p).fired_rules for p in profiles] for rb in (small, full)}
    failures: list[int] = []

    def worker(offset: int) -> None:
        for i, profile in enumerate(profiles):
            rb = (small, full)[(i + offset) % 2]
            if rb.evaluate(profile).fired_rules != expected[id(rb)][i]:
                failures.append(i)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

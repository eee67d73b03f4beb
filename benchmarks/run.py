"""Benchmarks of the bundled rulebase; every figure is printed beside the machine's yardstick.

Usage: python benchmarks/run.py [--quick]     (make bench)

The yardstick is one bare durable-rules call pair (assert_fact + delete_state) on a 2-rule
ruleset, measured in the same run: each figure's ratio to it says how the library compares
with the cheapest thing its engine of record can do, whatever the machine and its load.
Times are CPU time (the machine is shared), except where a figure says wall.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pandas as pd  # noqa: E402
from profiles import distinct_history_profiles, realistic_profiles  # noqa: E402

from mbc_rules import Rulebase  # noqa: E402
from mbc_rules.engine import _import_durable  # noqa: E402
from mbc_rules.facts import derive_facts  # noqa: E402

DURABLE = _import_durable()


def yardstick_us(calls: int) -> float:
    """One bare durable-rules assert_fact (+ its one action) + delete_state, 2 rules (CPU us)."""
    if DURABLE is None:
        return float("nan")
    rules = {
        "r0": {"all": [{"m": {"$and": [{"mark": 1}, {"a": 1}]}}]},
        "r1": {"all": [{"m": {"$and": [{"mark": 1}, {"b": 2}]}}]},
    }
    # The fact fires one rule, whose action is taken and completed before the session is
    # deleted: durable-rules crashes after a few thousand sessions whose actions were left
    # pending, so this is the least a stable evaluation can do.
    handle = DURABLE.create_ruleset("yardstick", json.dumps(rules))
    messages = [json.dumps({"mark": 1, "a": 1, "b": 0, "sid": str(i)}) for i in range(calls)]
    started = time.process_time()
    for i, message in enumerate(messages):
        code, state = DURABLE.assert_fact(handle, message)
        if code == 0:
            action = DURABLE.start_action_for_state(handle, state)
            payload = action[1] if action else None
            while payload:
                payload = DURABLE.complete_and_start_action(handle, state)
        DURABLE.delete_state(handle, str(i))
    elapsed = time.process_time() - started
    DURABLE.delete_ruleset(handle)
    return elapsed / calls * 1e6


def child_cpu_ms(code: str, repeat: int = 5, bytecode: bool = False) -> float:
    """Median CPU time of a fresh interpreter running ``code``, less an empty one's.

    With ``bytecode``, the interpreter may read and write ``__pycache__`` as an installed
    package does (this machine sets PYTHONDONTWRITEBYTECODE, so by default every fresh
    interpreter compiles the package's source again).
    """
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-c", code], check=True, env=env)  # writes the cache

    def run(source: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", source], check=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000

    return statistics.median(run(code) for _ in range(repeat)) - statistics.median(
        run("pass") for _ in range(repeat)
    )


def latency_us(
    rulebase: Rulebase, profiles: list[dict[str, object]], warm: Sequence[dict[str, object]] = ()
) -> tuple[float, float]:
    """p50 and p99 CPU time of one evaluation of each of ``profiles``, after ``warm``."""
    for profile in warm:
        rulebase.evaluate(profile)
    samples = []
    for profile in profiles:
        started = time.thread_time_ns()
        rulebase.evaluate(profile)
        samples.append((time.thread_time_ns() - started) / 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def bare_durable_us(rulebase: Rulebase, profiles: list[dict[str, object]]) -> float:
    """The durable matcher's own calls on the 96 rules: facts in, fired rule ids out (p50)."""
    matcher = rulebase._matcher
    facts = [derive_facts(rulebase.read_profile(p), rulebase.vocabulary) for p in profiles]
    samples = []
    for f in facts:
        started = time.thread_time_ns()
        matcher.match(f)
        samples.append((time.thread_time_ns() - started) / 1000)
    samples.sort()
    return samples[len(samples) // 2]


COHORT = """
import sys, time, resource, warnings
import pandas as pd
from mbc_rules import Rulebase, evaluate_frame
source, verify, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rulebase = Rulebase.bundled()
frame = pd.read_pickle(source) if source.endswith('.pkl') else source
def status(field):
    try:
        with open('/proc/self/status') as lines:
            return next(int(l.split()[1]) for l in lines if l.startswith(field))
    except OSError:
        return 0
try:  # the peak is measured from here (Linux: writing 5 resets VmHWM)
    with open('/proc/self/clear_refs', 'w') as refs:
        refs.write('5')
except OSError:
    pass
before = status('VmRSS:')
wall, cpu = time.perf_counter(), time.process_time()
out = evaluate_frame(frame, rulebase=rulebase, verify=verify, n_jobs=jobs)
cpu = time.process_time() - cpu
children = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu += children.ru_utime + children.ru_stime
wall = time.perf_counter() - wall
peak = status('VmHWM:')
rows = len(out.wide)
warm = time.process_time()
if jobs == 1 and rows <= 200_000:
    evaluate_frame(frame, rulebase=rulebase, verify=0)
warm = time.process_time() - warm
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rows, len(out.long), cpu, wall, warm, rss, max(peak - before, 0))
"""


def cohort(source: str, verify: int = 0, jobs: int = 1) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", COHORT, source, str(verify), str(jobs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    rows, long_rows, cpu, wall, warm, rss, grown = out
    return {
        "kb_per_row": int(grown) / int(rows),
        "rows": int(rows),
        "long": int(long_rows),
        "cpu": float(cpu),
        "wall": float(wall),
        "warm": float(warm),
        "rss_mb": int(rss) / 1024,
    }


def write_cohort(directory: Path, rows: int, copies: int) -> tuple[Path, Path, Path, Path]:
    """The rows as a pickled frame and as Parquet, ``copies`` of them as one Parquet file, and
    as many rows again whose histories are all distinct (a pickled frame).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame(realistic_profiles(rows, seed=7))
    pickled, parquet, large = directory / "c.pkl", directory / "c.parquet", directory / "l.parquet"
    distinct = directory / "d.pkl"
    pd.DataFrame(distinct_history_profiles(rows, seed=99)).to_pickle(distinct)
    frame.to_pickle(pickled)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, parquet)
    with pq.ParquetWriter(large, table.schema) as writer:
        for copy in range(copies):
            ids = pa.array([f"p{copy}-{i}" for i in range(rows)], type=table.schema.field(0).type)
            writer.write_table(table.set_column(0, "patient_id", ids))
    return pickled, parquet, large, distinct


def main(quick: bool) -> int:
    n_latency = 2000 if quick else 10_000
    n_rows = 10_000 if quick else 100_000
    copies = 10
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load[0]:.1f} (shared machine: CPU times)"
    )
    stick = yardstick_us(20_000)
    print(f"yardstick: bare durable-rules 2-rule assert_fact+delete_state = {stick:.1f} us CPU")

    def show(name: str, value: float, unit: str, us: float, target: str = "") -> None:
        ratio = us / stick if stick == stick else float("nan")
        print(f"  {name:<58} {value:>12,.1f} {unit:<9} {ratio:>10.2f} x yardstick  {target}")

    import_ms = child_cpu_ms("import mbc_rules")
    load_ms = child_cpu_ms("import mbc_rules; mbc_rules.Rulebase.bundled()")
    show("import mbc_rules", import_ms, "ms", import_ms * 1000)
    show("import + bundled load", load_ms, "ms", load_ms * 1000, "target < 300 ms")
    compiled_ms = child_cpu_ms("import mbc_rules; mbc_rules.Rulebase.bundled()", bytecode=True)
    show("  the same with bytecode cached (as installed)", compiled_ms, "ms", compiled_ms * 1000)
    pydantic_ms = child_cpu_ms("import pydantic; pydantic.create_model('M', x=(int, 0))")
    show("  for scale: import pydantic and build one model", pydantic_ms, "ms", pydantic_ms * 1000)

    # Held-out patients: each engine is warmed on 500 patients and timed on others it has
    # not seen (seeded apart), so that no figure is a memory of an earlier one.
    warm = realistic_profiles(500, seed=1)
    profiles = realistic_profiles(n_latency)
    compiled = Rulebase.bundled(engine="compiled")
    p50, p99 = latency_us(compiled, profiles, warm)
    show("single evaluation, compiled, p50", p50, "us", p50, "target < 50 us")
    show("single evaluation, compiled, p99", p99, "us", p99, "target < 150 us")
    # The same patients again: what a service pays once it has seen its population (the
    # Ranker knows every part; the whole-answer cache holds only the last 4,096).
    a50, a99 = latency_us(compiled, profiles)
    show("  the same patients again, p50", a50, "us", a50)
    show("  the same patients again, p99", a99, "us", a99)
    if DURABLE is not None:
        durable = Rulebase.bundled(engine="durable")
        held_out = realistic_profiles(n_latency, seed=3)
        d50, d99 = latency_us(durable, held_out, warm)
        bare = bare_durable_us(durable, held_out)
        show("single evaluation, durable-rules, p50", d50, "us", d50)
        show("single evaluation, durable-rules, p99", d99, "us", d99)
        show("bare durable-rules calls, 96 rules, p50", bare, "us", bare)
        print(f"  durable evaluation / bare 96-rule calls = {d50 / bare:.2f} (target <= 1.3)")
    python = Rulebase.bundled(engine="python")
    y50, _ = latency_us(python, realistic_profiles(n_latency, seed=4), warm)
    show("single evaluation, plain Python, p50", y50, "us", y50)

    with tempfile.TemporaryDirectory() as scratch:
        pickled, parquet, large, distinct = write_cohort(Path(scratch), n_rows, copies)
        for label, source, verify in (
            ("cohort, distinct histories, frame in, long out", str(distinct), 0),
            ("cohort, frame in, long out, 1 core", str(pickled), 0),
            ("cohort, from Parquet, 1 core", str(parquet), 0),
            ("cohort, frame, verify=200 (durable oracle)", str(pickled), 200),
        ):
            run = cohort(source, verify)
            per_row = run["cpu"] / run["rows"] * 1e6
            show(
                f"{label}, {run['rows']:,} rows",
                run["rows"] / run["cpu"],
                "rows/CPU-s",
                per_row,
                "target >= 100,000 rows/CPU-s",
            )
            show(
                "  memory a row (peak RSS growth while evaluating)",
                run["kb_per_row"],
                "KB",
                per_row,
                "target <= 2 KB a row",
            )
            if run["warm"]:
                warm = run["warm"] / run["rows"] * 1e6
                show(
                    "  the same again in the process (answers remembered)",
                    run["rows"] / run["warm"],
                    "rows/CPU-s",
                    warm,
                )
        two = cohort(str(pickled), 0, 2)
        show(
            f"cohort, frame, n_jobs=2, {two['rows']:,} rows, wall",
            two["rows"] / two["wall"],
            "rows/s",
            two["wall"] / two["rows"] * 1e6,
        )
        big = cohort(str(large), 0)
        show(
            f"cohort from Parquet, {big['rows']:,} rows, peak RSS",
            big["rss_mb"],
            "MB",
            big["cpu"] / big["rows"] * 1e6,
            "target < 2,048 MB",
        )
        show(
            f"  its throughput ({big['long']:,} long rows)",
            big["rows"] / big["cpu"],
            "rows/CPU-s",
            big["cpu"] / big["rows"] * 1e6,
        )
        small = cohort(str(parquet), 0)
        show(
            f"cohort from Parquet, {small['rows']:,} rows, peak RSS",
            small["rss_mb"],
            "MB",
            small["cpu"] / small["rows"] * 1e6,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main("--quick" in sys.argv))

"""Benchmark of the full bundled rulebase on both engines; prints every figure with its ratio.

Usage: python benchmarks/run.py [--quick]     (make bench)

Figures: import time, rulebase load time, single-evaluation latency (p50, p99) with the full
result, matching alone (to show what the engine itself costs), cohort throughput of
evaluate_partition over 100,000 rows on every core, and memory growth over many evaluations.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pandas as pd  # noqa: E402
from profiles import realistic_profiles  # noqa: E402

from mbc_rules import Rulebase  # noqa: E402
from mbc_rules.cohort import evaluate_partition  # noqa: E402
from mbc_rules.engine import _import_durable  # noqa: E402
from mbc_rules.facts import derive_facts  # noqa: E402

ENGINES = ["durable", "python"] if _import_durable() is not None else ["python"]


def subprocess_seconds(code: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    baseline = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - started)
    return statistics.median(times) - statistics.median(baseline)


def latency_us(engine: str, profiles: list[dict[str, object]]) -> tuple[float, float]:
    rulebase = Rulebase.bundled(engine=engine)  # type: ignore[arg-type]
    for profile in profiles[:500]:
        rulebase.evaluate(profile)
    samples = []
    for profile in profiles:
        started = time.perf_counter_ns()
        rulebase.evaluate(profile)
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def matching_us(engine: str, profiles: list[dict[str, object]]) -> float:
    rulebase = Rulebase.bundled(engine=engine)  # type: ignore[arg-type]
    facts = [derive_facts(rulebase.read_profile(p), rulebase.vocabulary) for p in profiles]
    matcher = rulebase._matcher
    started = time.perf_counter()
    for f in facts:
        matcher.match(f)
    return (time.perf_counter() - started) / len(facts) * 1e6


def _chunk(args: tuple[str, list[dict[str, object]]]) -> int:
    engine, rows = args
    out = evaluate_partition(pd.DataFrame(rows), Rulebase.bundled(engine=engine))  # type: ignore[arg-type]
    return out["patient_id"].nunique()


def throughput(engine: str, rows: list[dict[str, object]], workers: int) -> float:
    size = 5000
    chunks = [(engine, rows[i : i + size]) for i in range(0, len(rows), size)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = sum(pool.map(_chunk, chunks))
    elapsed = time.perf_counter() - started
    assert done == len(rows)
    return len(rows) / elapsed


def memory_growth_kb(engine: str, evaluations: int) -> int:
    out = subprocess.run(
        [sys.executable, str(HERE / "memory.py"), str(evaluations), engine],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[2])


def main(quick: bool) -> int:
    n_latency = 2000 if quick else 10_000
    n_rows = 10_000 if quick else 100_000
    n_memory = 20_000 if quick else 200_000
    workers = os.cpu_count() or 1
    profiles = realistic_profiles(n_latency)
    rows = realistic_profiles(n_rows, seed=7)
    print(f"machine: {platform.machine()}, {workers} cores, Python {platform.python_version()}")
    print(f"import mbc_rules: {subprocess_seconds('import mbc_rules') * 1000:.0f} ms")
    for engine in ENGINES:
        code = f"import mbc_rules; mbc_rules.Rulebase.bundled(engine={engine!r})"
        print(
            f"import + load bundled rulebase ({engine}): {subprocess_seconds(code) * 1000:.0f} ms"
        )
    figures: dict[str, dict[str, float]] = {}
    for engine in ENGINES:
        p50, p99 = latency_us(engine, profiles)
        figures[engine] = {
            "evaluate p50 (us)": p50,
            "evaluate p99 (us)": p99,
            "match only (us)": matching_us(engine, profiles),
            f"throughput, {n_rows} rows, {workers} processes (profiles/s)": throughput(
                engine, rows, workers
            ),
            f"memory growth over {n_memory} evaluations (KB)": memory_growth_kb(engine, n_memory),
        }
    names = list(next(iter(figures.values())))
    header = f"{'figure':<58}" + "".join(f"{e:>12}" for e in ENGINES)
    header += "  durable/python" if len(ENGINES) == 2 else ""
    print(header)
    for name in names:
        line = f"{name:<58}" + "".join(f"{figures[e][name]:>12.0f}" for e in ENGINES)
        if len(ENGINES) == 2 and figures["python"][name]:
            line += f"  {figures['durable'][name] / figures['python'][name]:>10.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main("--quick" in sys.argv))

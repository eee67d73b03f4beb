"""Resident memory before and after many evaluations (prints: start_kb end_kb growth_kb).

Usage: python benchmarks/memory.py [EVALUATIONS] [ENGINE] [--distinct]

By default the same 1,000 patients are evaluated again and again after every cache is warm:
memory must not grow. With ``--distinct`` every evaluation is a new patient: what the
rulebase remembers grows to its bounds (rank.Ranker.LIMIT and REMEMBERED, the answer cache)
and stops there.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from profiles import realistic_profiles

from mbc_rules import Rulebase


def resident_kb() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 // 1024


def main(evaluations: int, engine: str, distinct: bool = False) -> int:
    rulebase = Rulebase.bundled(engine=engine)  # type: ignore[arg-type]
    if distinct:
        patients = realistic_profiles(evaluations + 1000, seed=5)
        for profile in patients[:1000]:
            rulebase.evaluate(profile)
        start = resident_kb()
        for profile in patients[1000:]:
            rulebase.evaluate(profile)
        end = resident_kb()
        print(start, end, end - start)
        return 0
    profiles = realistic_profiles(1000)
    for profile in profiles * 5:  # warm every cache first
        rulebase.evaluate(profile)
    start = resident_kb()
    for i in range(evaluations):
        rulebase.evaluate(profiles[i % len(profiles)])
    end = resident_kb()
    print(start, end, end - start)
    return 0


if __name__ == "__main__":
    sys.exit(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 200_000,
            sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("-") else "auto",
            "--distinct" in sys.argv,
        )
    )

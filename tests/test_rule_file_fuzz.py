"""Issue 11, case 7: fuzzed rule files load, or fail located; never a crash or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_case_7_fuzzed_rule_files_never_crash_hang_or_raise_unlocated(tmp_path: Path) -> None:
    # In a child process: a native crash is this test failing, not the test run dying.
    child = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_rule_files", "25"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env={**os.environ, "MBC_RULES_CACHE": str(tmp_path), "PYTHONFAULTHANDLER": "1"},
        check=False,
    )
    assert child.returncode == 0, child.stderr[-4000:]
    counts = json.loads(child.stdout.strip().splitlines()[-1])
    # Both branches were exercised: rule sets that load and are evaluated on every engine, and
    # rule sets refused with located problems.
    assert counts["loaded"] >= 3, counts
    assert counts["refused"] >= 3, counts
    assert counts["evaluations"] >= counts["loaded"], counts

"""200,000 evaluations leave resident memory within 10 MB of where it started."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_two_hundred_thousand_evaluations_do_not_grow_memory() -> None:
    # A fresh process, so that what the rest of the suite allocated does not blur the figure.
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory.py"), "200000", "auto"],
        capture_output=True,
        text=True,
        check=True,
        timeout=1200,
    )
    start_kb, end_kb, growth_kb = (int(x) for x in done.stdout.split())
    assert end_kb - start_kb == growth_kb
    assert growth_kb < 10 * 1024, f"resident memory grew by {growth_kb} KB"

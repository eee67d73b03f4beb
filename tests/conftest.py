from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mbc_rules import Rulebase
from mbc_rules.engine import _import_durable

os.environ.setdefault("MPLBACKEND", "Agg")  # plots in tests never need a screen

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "rules"
# The source texts are not shipped; CI clones the repository beside ../shared as here (a work
# tree elsewhere names the folder in MBC_RULES_SOURCES).
SOURCES_DIR = Path(os.environ.get("MBC_RULES_SOURCES", ROOT.parent / "shared" / "sources"))

ENGINES = ["python", "compiled", *(["durable"] if _import_durable() is not None else [])]


@pytest.fixture(scope="session", params=ENGINES)
def rulebase(request: pytest.FixtureRequest) -> Rulebase:
    """The bundled rulebase, once per available engine."""
    return Rulebase.bundled(engine=request.param)


@pytest.fixture(scope="session")
def bundled() -> Rulebase:
    return Rulebase.bundled()


def write_rules(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def durable_probe_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The durable-rules load-time probes run from now on (none remembered in memory yet)."""
    from mbc_rules.engine import durable as engine_module

    monkeypatch.setattr(engine_module, "_passed", set())
    runs: list[object] = []
    real_run = engine_module._run_probe

    def counted(*args: Any) -> Any:
        runs.append(args)
        return real_run(*args)

    monkeypatch.setattr(engine_module, "_run_probe", counted)
    return runs

"""Loading the bundled rules fast without weakening a check.

``import mbc_rules`` imports no submodule until a name is used, and ``Rulebase.bundled()``
skips the checks of a rule set only when its files, byte for byte, and the code are those of
a load that passed them (``mbc_rules.cache``). Anything else gets every check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mbc_rules
from mbc_rules import Rulebase, RulebaseError
from mbc_rules import bundled as bundled_module
from mbc_rules import rulebase as rulebase_module
from mbc_rules import validate as validate_module
from mbc_rules.bundled import bundled_rules_dir
from mbc_rules.engine import _import_durable

from .conftest import RULES_DIR

PROFILES: list[dict[str, Any]] = [
    {"er_status": "positive", "her2_status": "negative", "menopausal_status": "postmenopausal"},
    {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"},
    {
        "her2_status": "positive",
        "prior_therapies": [{"agent": "trastuzumab", "outcome": "progressed"}],
    },
    {"er_status": "positive", "her2_status": "negative", "sex": "male", "brca_status": "positive"},
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder, a fresh ``Rulebase.bundled`` and counted full checks."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MBC_RULES_CACHE", str(folder))
    rulebase_module._bundled.cache_clear()
    yield folder
    rulebase_module._bundled.cache_clear()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the checks run, in order (``Rulebase.load`` imports them at each call)."""
    ran: list[str] = []
    for name in ("validate_files", "failing_examples"):
        real = getattr(validate_module, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            ran.append(_name)
            return _real(*args)

        monkeypatch.setattr(validate_module, name, counted)
    return ran


def _bundled_from(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(bundled_module, "bundled_rules_dir", lambda: folder)
    monkeypatch.setattr(rulebase_module, "bundled_rules_dir", lambda: folder)


def _same_rulebase(a: Rulebase, b: Rulebase) -> None:
    assert a.content_hash == b.content_hash
    assert a.version == b.version
    assert a.rules == b.rules
    assert a.sources == b.sources
    assert a.coverage == b.coverage
    assert repr(a) == repr(b)
    for profile in PROFILES:
        assert a.evaluate(profile).model_dump() == b.evaluate(profile).model_dump()


def test_the_checks_are_skipped_only_for_the_files_and_code_that_passed_them(
    cache: Path, checks: list[str]
) -> None:
    first = Rulebase.bundled(engine="python")
    assert checks == ["validate_files", "failing_examples"]  # the full load, every check
    assert len(list(cache.glob("checked-*.pickle"))) == 1

    rulebase_module._bundled.cache_clear()  # as a new process would
    again = Rulebase.bundled(engine="python")
    assert again is not first
    assert checks == ["validate_files", "failing_examples"]  # nothing ran again
    _same_rulebase(again, first)
    _same_rulebase(again, Rulebase.load(bundled_rules_dir(), engine="python"))


def test_a_changed_bundled_file_gets_every_check_and_a_bad_one_fails_at_load(
    cache: Path, checks: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Rulebase.bundled(engine="python")
    copy = tmp_path / "rules"
    shutil.copytree(RULES_DIR, copy)
    _bundled_from(monkeypatch, copy)

    # The same bytes elsewhere are the same rule set: nothing runs again.
    rulebase_module._bundled.cache_clear()
    Rulebase.bundled(engine="python")
    assert checks == ["validate_files", "failing_examples"]

    # One byte more (a comment) is another rule set: every check runs again.
    path = copy / "brca.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    rulebase_module._bundled.cache_clear()
    changed = Rulebase.bundled(engine="python")
    assert checks == ["validate_files", "failing_examples"] * 2
    assert changed.content_hash != Rulebase.load(RULES_DIR, engine="python").content_hash

    # An example that no longer fires as it says fails the load, naming file, line and rule.
    text = path.read_text(encoding="utf-8")
    assert "fires: true" in text
    path.write_text(text.replace("fires: true", "fires: false", 1), encoding="utf-8")
    rulebase_module._bundled.cache_clear()
    with pytest.raises(RulebaseError) as refused:
        Rulebase.bundled(engine="python")
    assert f"{path}:" in str(refused.value)
    assert "should not fire, but the rule fires" in str(refused.value)


def test_a_cache_entry_that_is_not_private_or_not_whole_is_not_read(
    cache: Path, checks: list[str]
) -> None:
    full = Rulebase.bundled(engine="python")
    (entry,) = cache.glob("checked-*.pickle")

    entry.chmod(0o666)  # anyone could have written it: never unpickled
    rulebase_module._bundled.cache_clear()
    _same_rulebase(Rulebase.bundled(engine="python"), full)
    assert checks.count("validate_files") == 2
    assert entry.stat().st_mode & 0o077 == 0  # written again, privately

    entry.write_bytes(entry.read_bytes()[:1000])  # cut short: a miss, never an error
    rulebase_module._bundled.cache_clear()
    _same_rulebase(Rulebase.bundled(engine="python"), full)
    assert checks.count("validate_files") == 3


def test_entries_not_written_for_a_month_are_removed_when_one_is_written(
    cache: Path, checks: list[str]
) -> None:
    cache.mkdir(mode=0o700)
    old, recent = cache / "checked-old.pickle", cache / "checked-recent.pickle"
    for entry, days in ((old, 31), (recent, 29)):
        entry.write_bytes(b"")
        when = time.time() - days * 86400
        os.utime(entry, (when, when))
    Rulebase.bundled(engine="python")
    assert not old.exists()
    assert recent.exists()
    assert len(list(cache.glob("checked-*.pickle"))) == 2  # the recent one and the new one


def test_another_code_version_does_not_use_the_entry(
    cache: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mbc_rules import cache as cache_module

    Rulebase.bundled(engine="python")
    monkeypatch.setattr(cache_module, "code_digest", lambda: "0" * 64)
    rulebase_module._bundled.cache_clear()
    Rulebase.bundled(engine="python")
    assert checks.count("validate_files") == 2
    assert len(list(cache.glob("checked-*.pickle"))) == 2


@pytest.mark.skipif(_import_durable() is None, reason="durable-rules does not import here")
def test_durable_rules_check_is_needed_too_before_the_checks_are_skipped(
    cache: Path,
    checks: list[str],
    monkeypatch: pytest.MonkeyPatch,
    durable_probe_runs: list[object],
) -> None:
    from mbc_rules.engine import durable as engine_module

    children = durable_probe_runs
    Rulebase.bundled(engine="python")  # checked, but not on durable-rules
    assert children == []
    rulebase_module._bundled.cache_clear()
    durable = Rulebase.bundled(engine="durable")
    assert len(children) == 1  # so the full load ran, durable-rules' child included
    assert checks.count("validate_files") == 2

    monkeypatch.setattr(engine_module, "_passed", set())  # a new process: only the files remain
    rulebase_module._bundled.cache_clear()
    again = Rulebase.bundled(engine="durable")
    assert len(children) == 1
    assert checks.count("validate_files") == 2
    assert again.engine == "durable"
    _same_rulebase(again, durable)


def _child(code: str, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "MBC_RULES_CACHE": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_new_process_loads_the_checked_rules_without_parsing_or_checking(
    tmp_path: Path,
) -> None:
    code = (
        "import json, sys, mbc_rules\n"
        "r = mbc_rules.Rulebase.bundled()\n"
        "e = r.evaluate({'er_status': 'positive', 'her2_status': 'negative'})\n"
        "print(json.dumps({'yaml': 'yaml' in sys.modules,\n"
        "    'validate': 'mbc_rules.validate' in sys.modules,\n"
        "    'hash': r.content_hash, 'first': e.options[0].category}))\n"
    )
    cold = _child(code, tmp_path)
    warm = _child(code, tmp_path)
    # The first load read and checked the files; the next only hashed them.
    assert (cold["yaml"], cold["validate"]) == (True, True)
    assert (warm["yaml"], warm["validate"]) == (False, False)
    assert warm["hash"] == cold["hash"]
    assert warm["first"] == cold["first"] == "hormone_therapy"


def test_import_mbc_rules_imports_no_part_until_a_name_is_used(tmp_path: Path) -> None:
    code = (
        "import json, sys, mbc_rules\n"
        "before = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "    ('mbc_rules', 'pydantic', 'yaml', 'pandas', 'numpy', 'durable_rules_engine'))\n"
        "import mbc_rules.explain, mbc_rules.report\n"
        "print(json.dumps({'before': before,\n"
        "    'functions': [callable(mbc_rules.explain), callable(mbc_rules.report),\n"
        "                  type(mbc_rules.explain).__name__, type(mbc_rules.report).__name__]}))\n"
    )
    seen = _child(code, tmp_path)
    assert seen["before"] == ["mbc_rules", "mbc_rules._version"]
    # Importing the submodules named like the package's functions leaves the functions.
    assert seen["functions"] == [True, True, "function", "function"]


def test_every_public_name_resolves_to_its_definition() -> None:
    from importlib import import_module

    lazy = mbc_rules._LAZY
    assert set(lazy) | {"__version__", *mbc_rules._FUNCTIONS} == set(mbc_rules.__all__)
    for name, module in lazy.items():
        assert getattr(mbc_rules, name) is getattr(import_module(module), name), name
    assert set(mbc_rules.__all__) <= set(dir(mbc_rules))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = mbc_rules.nothing  # type: ignore[attr-defined]


@pytest.mark.skipif(_import_durable() is None, reason="durable-rules does not import here")
def test_durable_rules_check_is_remembered_for_this_code_only(
    cache: Path, monkeypatch: pytest.MonkeyPatch, durable_probe_runs: list[object]
) -> None:
    from mbc_rules.engine import durable as engine_module

    children = durable_probe_runs
    Rulebase.load(RULES_DIR, engine="durable")
    Rulebase.load(RULES_DIR, engine="durable")
    assert len(children) == 1
    monkeypatch.setattr(engine_module, "code_digest", lambda: "0" * 64)  # the code changed
    Rulebase.load(RULES_DIR, engine="durable")
    assert len(children) == 2

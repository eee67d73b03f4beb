"""Issue 11, case 4: hostile or broken rule directories are located errors, never a crash.

Each test is named after the case it pins and runs its reproducer. Reading is bounded in time and
memory: a test that hung or blew up would be the failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mbc_rules import Rulebase, RulebaseError
from mbc_rules.cli import main
from mbc_rules.load import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, read_rule_file

from .conftest import write_rules
from .test_rule_errors import GOOD_RULE


def load_problems(directory: Path, **options: object) -> list[str]:
    with pytest.raises(RulebaseError) as caught:
        Rulebase.load(directory, engine="python", **options)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def billion_laughs(levels: int) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghijk"[: levels - 1]:
        text += f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
        previous = name
    return text


def test_case_4_recursive_alias_is_a_located_error(tmp_path: Path) -> None:
    write_rules(tmp_path, "loop.yaml", "rules: []\nx: &x [*x]\n")
    (problem,) = load_problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 'loop.yaml'}:2: ")
    assert "alias *x refers to a node that contains it" in problem


def test_case_4_nesting_500_deep_is_a_located_error(tmp_path: Path) -> None:
    write_rules(tmp_path, "deep.yaml", "rules:\n  - " + "[" * 500 + "]" * 500 + "\n")
    (problem,) = load_problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 'deep.yaml'}:2: ")
    assert f"nesting deeper than {MAX_DEPTH} levels" in problem


def test_case_4_nesting_far_beyond_the_c_stack_is_refused_without_a_crash(
    tmp_path: Path,
) -> None:
    # PyYAML's own composer recurses per level and segfaults on ~50,000; we never call it.
    path = write_rules(tmp_path, "deeper.yaml", "x: " + "[" * 200_000 + "]" * 200_000 + "\n")
    loaded, problems = read_rule_file(path)
    assert loaded is None
    assert problems
    assert problems[0].line == 1


@pytest.mark.parametrize("levels", [6, 9])
def test_case_4_billion_laughs_is_refused_quickly(tmp_path: Path, levels: int) -> None:
    text = billion_laughs(levels)
    assert len(text) < 1200
    write_rules(tmp_path, "laughs.yaml", text)
    started = time.perf_counter()
    (problem,) = load_problems(tmp_path)
    assert time.perf_counter() - started < 5
    assert f"expands to more than {MAX_NODES} values" in problem
    assert str(tmp_path / "laughs.yaml") + ":" in problem


def test_case_4_aliases_within_the_limit_still_work(tmp_path: Path) -> None:
    text = "citation: &acs acs-her2-positive-pertuzumab-1\n" + GOOD_RULE.replace(
        "      - acs-her2-positive-pertuzumab-1\n", "      - *acs\n"
    )
    assert "*acs" in text
    write_rules(tmp_path, "local.yaml", text.replace("citation: &acs", "x-citation: &acs"))
    problems = load_problems(tmp_path)
    # The only problem is the unknown top-level key; the alias itself was read.
    assert len(problems) == 1
    assert "x-citation" in problems[0]


def test_case_4_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (problem,) = load_problems(tmp_path)
    assert problem == f"{tmp_path / 'zero.yaml'}: is not a regular file; a rule file must be one"


def test_case_4_fifo_named_yaml_does_not_hang_the_load(tmp_path: Path) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    os.mkfifo(tmp_path / "pipe.yaml")
    (problem,) = load_problems(tmp_path)
    assert "pipe.yaml: is not a regular file" in problem


def test_case_4_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    (problem,) = load_problems(tmp_path)
    assert f"may have at most {MAX_FILE_BYTES}" in problem


def test_case_4_binary_rule_file_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"rules: \xff\xfe\x00\x01")
    (problem,) = load_problems(tmp_path)
    assert "binary.yaml: is not UTF-8 text" in problem


def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make ``denied`` unreadable: by its mode, and for root (who reads anything) by the OS call."""
    denied.chmod(0)
    if os.geteuid() != 0:
        return
    real_scandir, real_open = os.scandir, os.open

    def scandir(path: Any = ".") -> Any:
        if Path(str(path)) == denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def open_(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if Path(str(path)) == denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "open", open_)


def test_case_4_unreadable_subdirectory_is_an_error_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    hidden = tmp_path / "more"
    hidden.mkdir()
    write_rules(hidden, "other.yaml", GOOD_RULE.replace("local-rule", "other-rule"))
    _deny(monkeypatch, hidden)
    try:
        (problem,) = load_problems(tmp_path)
    finally:
        hidden.chmod(0o755)
    assert problem.startswith(f"{hidden}: cannot be read")


def test_case_4_unreadable_rule_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    secret = write_rules(tmp_path, "secret.yaml", GOOD_RULE.replace("local-rule", "secret"))
    _deny(monkeypatch, secret)
    try:
        (problem,) = load_problems(tmp_path)
    finally:
        secret.chmod(0o644)
    assert problem.startswith(f"{secret}: cannot be read")


def test_case_4_a_symlinked_folder_loop_is_read_once(tmp_path: Path) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    (tmp_path / "again").symlink_to(tmp_path, target_is_directory=True)
    assert [r.id for r in Rulebase.load(tmp_path, engine="python").rules] == ["local-rule"]


def _sources_folder(tmp_path: Path, document: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    write_rules(
        rules,
        "sources.yaml",
        "sources:\n  - id: acs\n    publisher: American Cancer Society\n"
        f"    title: Treatment of Stage IV breast cancer\n    document: {document}\n",
    )
    write_rules(rules, "local.yaml", GOOD_RULE)
    sources = tmp_path / "sources"
    sources.mkdir()
    return rules


def test_case_4_source_document_outside_the_sources_folder_is_refused(tmp_path: Path) -> None:
    rules = _sources_folder(tmp_path, "../../../../../../../../etc/passwd")
    problems = load_problems(rules, sources_dir=tmp_path / "sources")
    assert any("lies outside the sources folder" in p for p in problems)
    assert not any("root:" in p for p in problems)


def test_case_4_binary_source_document_is_an_error(tmp_path: Path) -> None:
    rules = _sources_folder(tmp_path, "acs.pdf")
    (tmp_path / "sources" / "acs.pdf").write_bytes(b"%PDF-1.7\n\x00\x01\x02\xff")
    problems = load_problems(rules, sources_dir=tmp_path / "sources")
    assert any("acs.pdf: source 'acs': is not a text file" in p for p in problems)


def test_case_4_lint_prints_no_traceback_for_any_of_these(tmp_path: Path) -> None:
    write_rules(tmp_path, "loop.yaml", "x: &x [*x]\n")
    write_rules(tmp_path, "deep.yaml", "x: " + "[" * 500 + "]" * 500 + "\n")
    write_rules(tmp_path, "laughs.yaml", billion_laughs(9))
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.yaml")
    run = subprocess.run(
        [sys.executable, "-m", "mbc_rules", "lint", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    for name in ("loop.yaml:1", "deep.yaml:1", "laughs.yaml:", "zero.yaml", "pipe.yaml"):
        assert name in run.stderr


def test_case_4_lint_in_process_reports_instead_of_raising(tmp_path: Path) -> None:
    import io

    write_rules(tmp_path, "loop.yaml", "x: &x [*x]\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["lint", str(tmp_path)], out, err) == 1
    assert "loop.yaml:1: the alias *x refers to a node that contains it" in err.getvalue()

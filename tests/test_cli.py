"""The command line: the same answers as the library, errors on stderr, no tracebacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mbc_rules import Evaluation, Rulebase
from mbc_rules.cli import main

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "hr_positive_bone.yaml"


def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            status = main(list(argv), out, err)
        finally:
            sys.stdin = old
    else:
        status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def test_evaluate_json_is_the_library_result() -> None:
    status, out, err = run("evaluate", str(EXAMPLE), "--json")
    assert (status, err) == (0, "")
    import yaml

    expected = Rulebase.bundled().evaluate(yaml.safe_load(EXAMPLE.read_text()))
    assert Evaluation.model_validate_json(out).model_dump_json() == expected.model_dump_json()


def test_evaluate_table_from_stdin_json() -> None:
    profile = {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
    status, out, _ = run("evaluate", "-", stdin=json.dumps(profile))
    assert status == 0
    first = out.splitlines()[0].split()
    assert first[:3] == ["1", "chemotherapy", "preferred"]
    assert "not recommended: hormone_therapy" in out


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"er_stauts": "positive"}', "er_stauts: Extra inputs are not permitted"),
        ("[1, 2]", "a profile is a mapping"),
        ("{unclosed", "not valid YAML or JSON"),
        ('{"prior_therapies": [{"agent": "letrozol"}]}', "did you mean 'letrozole'"),
    ],
)
def test_user_mistakes_go_to_stderr_without_a_traceback(stdin: str, message: str) -> None:
    status, out, err = run("evaluate", "-", stdin=stdin)
    assert status == 1
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_missing_file() -> None:
    status, _, err = run("evaluate", "no/such/file.yaml")
    assert status == 1
    assert "cannot read no/such/file.yaml" in err


def test_explain() -> None:
    status, out, _ = run("explain", str(EXAMPLE), "alpelisib")
    assert status == 0
    assert "pik3ca_status is unknown" in out


def test_lint_reports_every_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: x-y\n    colour: red\n", encoding="utf-8")
    status, _, err = run("lint", str(tmp_path))
    assert status == 1
    assert "bad.yaml:3 [x-y]: colour: unknown key 'colour'" in err
    assert "missing key 'when'" in err
    status, out, _ = run("lint")
    assert status == 0
    assert "no problems" in out


def test_schema_sources_and_coverage() -> None:
    status, out, _ = run("schema", "profile")
    assert status == 0
    schema = json.loads(out)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["er_status"]["enum"] == ["positive", "negative", "unknown"]
    _, out, _ = run("schema", "result")
    assert "options" in json.loads(out)["properties"]
    _, out, _ = run("sources")
    assert out.count("\n") == 5
    assert "American Cancer Society" in out
    _, out, _ = run("coverage")
    assert out.startswith("# Coverage of the sources")


def test_python_dash_m_and_the_console_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mbc_rules", "evaluate", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "hormone_therapy" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "mbc_rules", "schema", "nothing"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr

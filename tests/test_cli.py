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
    data = json.loads(out)
    tests = data.pop("informative_tests")
    assert Evaluation.model_validate(data).model_dump_json() == expected.model_dump_json()
    # The tests that would change the answer travel with it, with their directions.
    pik3ca = next(t for t in tests if t["status"] == "pik3ca_status")
    assert pik3ca["outcomes"][0]["agents_appear"] == ["alpelisib"]


def test_the_json_of_evaluate_follows_the_report_schema() -> None:
    import jsonschema

    _, schema_text, _ = run("schema", "report")
    schema = json.loads(schema_text)
    assert "informative_tests" in schema["required"]
    direction = schema["$defs"]["RankChange"]["properties"]["direction"]
    assert direction["enum"] == ["up", "down"]
    status, out, _ = run("evaluate", str(EXAMPLE), "--json")
    assert status == 0
    jsonschema.validate(json.loads(out), schema)
    bad = json.loads(out)
    bad["informative_tests"][0]["outcomes"][0]["rank_changes"] = [
        {"category": "chemotherapy", "rank_now": 2, "rank_then": 1, "direction": "sideways"}
    ]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_evaluate_table_from_stdin_json() -> None:
    profile = {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
    status, out, _ = run("evaluate", "-", stdin=json.dumps(profile))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("Patient (no id): receptors ER negative, PR negative, HER2 negative")
    first = next(line for line in lines if line.startswith("1 "))
    assert first.split()[:3] == ["1", "chemotherapy", "preferred"]
    assert "Not recommended:\n- hormone therapy: " in out


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
    assert out.startswith("alpelisib: not offered: waiting on a test: PIK3CA status not known.")
    status, out, _ = run("explain", str(EXAMPLE), "alpelisib", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["verdict"].startswith("alpelisib: not offered")
    assert data["rules"][0]["needs"].startswith("needs pik3ca_status = positive")


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
    assert "hormone therapy" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "mbc_rules", "schema", "nothing"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr


def test_version_names_the_package_the_rule_content_and_its_hash() -> None:
    status, out, _ = run("--version")
    assert status == 0
    rulebase = Rulebase.bundled()
    assert out.startswith("mbc-rules 0.")
    assert f"rules {rulebase.version}" in out
    assert rulebase.content_hash in out


def test_the_table_names_the_patient_and_gives_the_advice() -> None:
    status, out, _ = run("evaluate", str(EXAMPLE))
    assert status == 0
    assert out.startswith("Patient example-1: receptors ER positive, PR positive, HER2 negative")
    assert "progressed on letrozole (progressed, for metastatic disease)" in out
    assert "\nAdvice:\n- " in out
    # The unknown PIK3CA status is a test that would add alpelisib.
    assert "PIK3CA mutation: if a PIK3CA mutation in the tumour: adds alpelisib" in out
    # Class placeholders read as classes, never as ids.
    assert "cdk4_6_inhibitor" not in out
    assert "a CDK4/6 inhibitor" in out


def test_markdown_report_is_a_page_to_paste() -> None:
    status, out, _ = run("evaluate", str(EXAMPLE), "--format", "markdown")
    assert status == 0
    assert out.startswith("## Treatment options: patient example-1\n")
    assert "| rank | option | tier | drugs and regimens | sources |" in out
    assert "### Tests that would change the answer" in out
    # Every option has its own section with quoted sources.
    import yaml

    result = Rulebase.bundled().evaluate(yaml.safe_load(EXAMPLE.read_text()))
    assert out.count("\n### ") >= len(result.options)
    assert "\n> " in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"er_status: positive\nnote: caf\xe9\n",
            "line 2: not UTF-8 text (byte 0xe9 at offset 29)",
        ),
        (b"er_status: positive\ner_status: negative\n", "line 2: duplicate key 'er_status'"),
        (b'{"er_status": "positive", "er_status": "negative"}', "duplicate key 'er_status'"),
        (b"", "the file is empty"),
        (b"  \n\n", "the file is empty"),
        (b"# only a comment\n", "the file is empty"),
        (b"er_status: [positive\n", "not valid YAML or JSON"),
        (b"!!python/object:os.system {}\n", "the tag"),
    ],
)
def test_every_file_error_is_one_line_with_exit_1(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "profile.yaml"
    path.write_bytes(content)
    status, out, err = run("evaluate", str(path))
    assert (status, out) == (1, "")
    assert err.count("\n") == 1, err
    assert message in err
    assert str(path) in err
    assert "Traceback" not in err


def test_a_non_utf8_file_through_the_installed_command(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("er_status: positive\nnote: Ménard\n".encode("latin-1"))
    done = subprocess.run(
        [sys.executable, "-m", "mbc_rules", "evaluate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    # Where durable-rules does not import (Python 3.13+), its one-time notice comes first.
    assert done.stderr.splitlines()[-1] == (
        f"mbc-rules: {path}, line 2: not UTF-8 text (byte 0xe9 at offset 27); "
        "save the file as UTF-8"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"er_stauts": "positive"}', "er_stauts: Extra inputs are not permitted (did you mean "),
        ('{"menopause_status": "postmenopausal"}', "did you mean 'menopausal_status'?"),
        (
            '{"prior_therapies": [{"agent": "letrozole", "outcom": "progressed"}]}',
            "prior_therapies.0.outcom: Extra inputs are not permitted (did you mean 'outcome'?)",
        ),
        ('{"er_status": "postive"}', "got 'postive' (did you mean 'positive'?)"),
    ],
)
def test_misspelt_fields_and_values_get_did_you_mean(stdin: str, message: str) -> None:
    status, out, err = run("evaluate", "-", stdin=stdin)
    assert (status, out) == (1, "")
    assert message in err
    assert err.count("\n") == 1


def test_lint_says_whether_and_how_many_excerpts_it_checked() -> None:
    status, out, _ = run("lint")
    assert status == 0
    assert "excerpts not checked against the source texts (give --sources DIR)" in out
    sources = Path("/work/shared/sources")
    if not sources.is_dir():
        pytest.skip("the source texts are not on this machine")
    status, out, _ = run("lint", "--sources", str(sources))
    assert status == 0
    statements = len(Rulebase.bundled().coverage)
    assert f"{statements} statement excerpts checked word for word against the source texts" in out

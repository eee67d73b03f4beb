"""The documentation: no broken internal link, and every Python example still runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def internal_links(document: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(document.read_text(encoding="utf-8"))
        if not re.match(r"[a-z]+:", target) and not target.startswith("#")
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_internal_links_resolve(document: Path) -> None:
    broken = [
        target
        for target in internal_links(document)
        if not (document.parent / target.split("#")[0]).exists()
    ]
    assert broken == []


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("see [missing](nowhere.md) and [web](https://example.org)", encoding="utf-8")
    assert internal_links(page) == ["nowhere.md"]
    assert not (tmp_path / "nowhere.md").exists()


EXAMPLES = [
    pytest.param(document, index, block, id=f"{document.name}[{index}]")
    for document in DOCUMENTS
    for index, block in enumerate(PYTHON_BLOCK.findall(document.read_text(encoding="utf-8")))
]


@pytest.mark.parametrize(("document", "index", "block"), EXAMPLES)
def test_python_examples_run(
    document: Path, index: int, block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "my_rules/" in block:
        # The README's example loads a rule directory of one's own: give it one.
        rules = tmp_path / "my_rules"
        rules.mkdir()
        (rules / "local.yaml").write_text(
            (ROOT / "rules" / "her2_positive.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        monkeypatch.chdir(tmp_path)
    exec(compile(block, f"{document.name}[{index}]", "exec"), {"__name__": "__docs__"})


# A Python example followed by the words "prints" and a text block: the block is what it
# prints (issue 21: the README's printed output had gone stale while its test only ran it).
PRINTED = re.compile(r"```python\n(.*?)```\n\nprints[^\n]*:\n\n```text\n(.*?)```", re.S)
PRINTED_EXAMPLES = [
    pytest.param(document, code, printed, id=f"{document.name}[{index}]")
    for document in DOCUMENTS
    for index, (code, printed) in enumerate(PRINTED.findall(document.read_text(encoding="utf-8")))
]


def test_the_readme_shows_what_its_example_prints() -> None:
    assert any(str(p.id).startswith("README.md[") for p in PRINTED_EXAMPLES)


@pytest.mark.parametrize(("document", "code", "printed"), PRINTED_EXAMPLES)
def test_printed_outputs_are_what_the_code_prints(
    document: Path,
    code: str,
    printed: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if "my_rules/" in code:
        rules = tmp_path / "my_rules"
        rules.mkdir()
        (rules / "local.yaml").write_text(
            (ROOT / "rules" / "her2_positive.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        monkeypatch.chdir(tmp_path)
    exec(compile(code, document.name, "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out == printed

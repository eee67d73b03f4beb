"""Rewrite the printed outputs of the docs' Python examples with what the code prints now.

tests/test_docs.py checks each Python example followed by "prints ...:" and a text block
against a fresh run; this writes the fresh run back: `python tools/refresh_printed.py [FILE...]`
(README.md and docs/*.md when no file is given).
An example that loads ``my_rules/`` runs, as in the test, in a scratch directory holding a rule
directory of that name (a copy of rules/her2_positive.yaml).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

PRINTED = re.compile(r"(```python\n(.*?)```\n\nprints[^\n]*:\n\n```text\n)(.*?)(```)", re.S)
ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def example_directory(code: str) -> Iterator[None]:
    """Where ``code`` runs: here, or for an example that loads ``my_rules/``, a scratch
    directory with that rule directory in it (what tests/test_docs.py gives the example).
    """
    if "my_rules/" not in code:
        yield
        return
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        rules = Path(scratch) / "my_rules"
        rules.mkdir()
        (rules / "local.yaml").write_text(
            (ROOT / "rules" / "her2_positive.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        os.chdir(scratch)
        try:
            yield
        finally:
            os.chdir(here)


def refresh(path: Path) -> int:
    """Rewrite ``path``'s printed blocks; the number rewritten."""
    text = path.read_text(encoding="utf-8")
    changed = 0

    def run(match: re.Match[str]) -> str:
        nonlocal changed
        code = match.group(2)
        # Blank lines before the code, so that a traceback gives the line in the document.
        at = "\n" * text.count("\n", 0, match.start(2))
        out = io.StringIO()
        with example_directory(code), contextlib.redirect_stdout(out):
            exec(compile(at + code, str(path), "exec"), {"__name__": "__docs__"})
        changed += out.getvalue() != match.group(3)
        return match.group(1) + out.getvalue() + match.group(4)

    refreshed = PRINTED.sub(run, text)
    if refreshed != text:
        path.write_text(refreshed, encoding="utf-8")
    return changed


if __name__ == "__main__":
    paths = [Path(name).resolve() for name in sys.argv[1:]] or [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]
    for path in paths:
        print(
            f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
            f"{refresh(path)} rewritten"
        )

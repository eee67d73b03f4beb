"""Rewrite the printed outputs of the docs' Python examples with what the code prints now.

tests/test_docs.py checks each Python example followed by "prints ...:" and a text block
against a fresh run; this writes the fresh run back: `python tools/refresh_printed.py FILE...`.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

PRINTED = re.compile(r"(```python\n(.*?)```\n\nprints[^\n]*:\n\n```text\n)(.*?)(```)", re.S)


def refresh(path: Path) -> int:
    """Rewrite ``path``'s printed blocks; the number rewritten."""
    text = path.read_text(encoding="utf-8")
    changed = 0

    def run(match: re.Match[str]) -> str:
        nonlocal changed
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(match.group(2), path.name, "exec"), {"__name__": "__docs__"})
        changed += out.getvalue() != match.group(3)
        return match.group(1) + out.getvalue() + match.group(4)

    path.write_text(PRINTED.sub(run, text), encoding="utf-8")
    return changed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(Path(name))} rewritten")

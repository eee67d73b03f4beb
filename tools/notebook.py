"""Execute the quickstart notebook and store its outputs (``make notebook``).

The notebook is kept with the outputs of a fresh execution, so that it reads on GitHub as it
runs; tests/test_notebook.py executes it again and fails when the stored outputs differ from
the fresh ones (after :func:`comparable`, which sets aside what no two runs share).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "quickstart.ipynb"

# What differs between two runs of the same notebook on the same code: objects' addresses,
# temporary folders, the engine and its warnings where durable-rules does not import, and
# plots (a font or library version moves their pixels, and a kernel started with a
# non-interactive matplotlib backend, as under pytest, shows none).
_ADDRESS = re.compile(r"0x[0-9a-f]{6,}")
_TEMPORARY = re.compile(r"/tmp/[^\s'\"<>)]*")
# The engine a rulebase names: durable-rules where it imports, the plain-Python engine where it
# does not (Python 3.13); the engines are held to give the same answers.
_ENGINE = re.compile(r"\bengine[ =](?:auto|durable|python|compiled)\b")
_IMAGES = ("image/png", "image/svg+xml", "image/jpeg")


def executed(path: Path = NOTEBOOK) -> Any:
    """The notebook at ``path``, executed from the repository's root."""
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(ROOT)}}).execute()
    return notebook


def _text(value: Any) -> str:
    text = "".join(value) if isinstance(value, list) else str(value)
    text = _ENGINE.sub("engine <engine>", text)
    return _TEMPORARY.sub("<tmp>", _ADDRESS.sub("<address>", text))


def comparable(notebook: Any) -> list[list[dict[str, Any]]]:
    """Each code cell's outputs as two runs of the same code share them."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            if any(kind in output.get("data", {}) for kind in _IMAGES):
                continue
            if output.output_type == "stream" and output.get("name") == "stderr":
                continue  # warnings of the machine (durable-rules absent on Python 3.13)
            kept: dict[str, Any] = {"output_type": output.output_type}
            if "text" in output:
                kept["text"] = _text(output["text"])
            for kind, value in output.get("data", {}).items():
                kept[kind] = _text(value)
            outputs.append(kept)
        cells.append(outputs)
    return cells


def main() -> int:
    notebook = executed()
    for cell in notebook.cells:
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(notebook, NOTEBOOK)  # type: ignore[no-untyped-call]
    print(f"wrote {NOTEBOOK.relative_to(ROOT)} with its outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render the quickstart notebook to HTML and photograph it in headless Chromium.

``make screenshots`` runs this (not ``make test``: it needs Chromium from the system's
packages, e.g. ``apt-get install chromium``, and nbconvert). The HTML uses nbconvert's
JupyterLab template, whose stylesheet is the one that right-aligned our tables, so the picture
shows the view as JupyterLab draws it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "quickstart.ipynb"
OUT = ROOT / "docs" / "images"
BUILD = ROOT / "build" / "screenshots"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Quiet, offline, throwaway: no network, no updates, no profile left behind.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def browser() -> str:
    """The first Chromium-like browser on the PATH."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    sys.exit("screenshots: no Chromium found; install it (apt-get install chromium)")


def render_notebook() -> Path:
    """Write the quickstart as HTML, with its stored outputs (``make notebook`` stores a fresh
    execution's, and the suite fails when they differ from it); returns the HTML file.
    """
    BUILD.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "html",
            "--output-dir",
            str(BUILD),
            str(NOTEBOOK),
        ],
        check=True,
        cwd=ROOT,
    )
    return BUILD / (NOTEBOOK.stem + ".html")


def cut(html: Path, start: str | None, end: str, name: str) -> Path:
    """The rendered page from the cell holding ``start`` (the top when None) to the cell
    holding ``end``: one part of the notebook per picture.
    """
    text = html.read_text(encoding="utf-8")
    head_end = text.find("<main")
    first = 0 if start is None else text.rfind('<div class="jp-Cell ', 0, text.find(start))
    last = text.rfind('<div class="jp-Cell ', 0, text.find(end))
    if head_end == -1 or first == -1 or last == -1 or last <= first:
        return html
    body = text[first:last] if start is not None else text[head_end:last]
    page = BUILD / name
    prefix = text[:head_end] + "<main>" if start is not None else text[:head_end]
    page.write_text(prefix + body + "</main></body></html>", encoding="utf-8")
    return page


def photograph(page: Path, target: Path, width: int = 1280, height: int = 2700) -> None:
    """Save a PNG of ``page`` as Chromium draws it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mbc-chromium-") as profile:
        subprocess.run(
            [
                browser(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={target}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not target.is_file() or target.stat().st_size == 0:
        sys.exit(f"screenshots: Chromium wrote no picture to {target}")


def main() -> None:
    """Render the quickstart, and photograph one patient's answer and its explanations."""
    html = render_notebook()
    pictures = {
        "quickstart-result.png": (cut(html, None, "Why, and why not", "result.html"), 1320),
        "quickstart-explain.png": (
            cut(html, "Why, and why not", "A report to paste", "explain.html"),
            1250,
        ),
    }
    for name, (page, height) in pictures.items():
        photograph(page, OUT / name, height=height)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()

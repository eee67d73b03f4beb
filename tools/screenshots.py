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
    """Execute the quickstart and write it as HTML; returns the HTML file."""
    BUILD.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "html",
            "--execute",
            "--ExecutePreprocessor.timeout=300",
            "--output-dir",
            str(BUILD),
            str(NOTEBOOK),
        ],
        check=True,
        cwd=ROOT,
    )
    return BUILD / (NOTEBOOK.stem + ".html")


def one_patient(html: Path) -> Path:
    """The rendered page cut to its first cells (the rulebase and one patient's answer)."""
    text = html.read_text(encoding="utf-8")
    marker = text.find("Why, and why not")
    if marker == -1:
        return html
    cell = text.rfind('<div class="jp-Cell ', 0, marker)
    if cell == -1:
        return html
    cut = BUILD / "one-patient.html"
    cut.write_text(text[:cell] + "</main></body></html>", encoding="utf-8")
    return cut


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
    """Render, cut and photograph the quickstart notebook."""
    html = render_notebook()
    photograph(one_patient(html), OUT / "quickstart-result.png")
    print(f"wrote {OUT / 'quickstart-result.png'}")


if __name__ == "__main__":
    main()

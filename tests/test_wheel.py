"""A non-editable install from the wheel finds the bundled rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

SCRIPT = """
import json, mbc_rules
from mbc_rules.bundled import bundled_rules_dir
from mbc_rules.service import error_schema, response_schema
r = mbc_rules.evaluate({"er_status": "negative", "pr_status": "negative"})
print(json.dumps({"file": mbc_rules.__file__, "rules": str(bundled_rules_dir()),
                  "first": r.options[0].category, "version": r.rulebase_version,
                  "typed": (bundled_rules_dir().parent / "py.typed").is_file(),
                  "schemas": [response_schema()["title"], error_schema()["title"]]}))
"""


def test_the_wheel_installs_and_evaluates_with_its_bundled_rules(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("mbc_rules-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    # Run from elsewhere, so the checkout cannot be imported by accident.
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(python), "-c", SCRIPT],
        cwd=tmp_path,
        env=clean_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(out)
    assert report["file"].startswith(str(env_dir))
    assert report["rules"].startswith(str(env_dir))
    assert report["first"] == "chemotherapy"
    assert report["typed"] is True
    assert report["schemas"] == ["CDS Hooks 2.0 service response", "mbc-rules service error"]

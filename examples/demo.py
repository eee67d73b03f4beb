"""Evaluate one patient profile (YAML or JSON file) and print the ranked, cited answer.

Usage: python examples/demo.py PROFILE_FILE

The result shows itself: ``print(result)`` is the text report (the answer on one screen, then
the detail with the sources' sentences), the same as ``mbc-rules evaluate PROFILE_FILE``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

import mbc_rules


def main(path: str) -> int:
    profile = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    result = mbc_rules.evaluate(profile)
    print(f"mbc-rules {mbc_rules.__version__}, rulebase {result.rulebase_version}")
    print(f"Profile: {path}\n")
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "examples/hr_positive_bone.yaml"))

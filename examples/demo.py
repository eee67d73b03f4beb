"""Evaluate one patient profile (YAML or JSON file) and print the ranked, cited answer.

Usage: python examples/demo.py PROFILE_FILE
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import yaml

import mbc_rules


def main(path: str) -> int:
    profile = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    result = mbc_rules.evaluate(profile)
    print(f"mbc-rules {mbc_rules.__version__}, rulebase {result.rulebase_version}")
    print(f"Profile: {path}\n")
    for option in result.options:
        agents = ", ".join(option.agents) or "(no specific drug named)"
        print(f"{option.rank}. {option.category} [{option.tier}]: {agents}")
        for regimen in option.regimens:
            print(f"     regimen: {regimen.name}")
        for citation in option.citations:
            quote = textwrap.shorten(citation.excerpt, 110)
            print(f"     - {citation.publisher}, '{citation.section}': \"{quote}\"")
    for item in result.not_recommended:
        print(f"\nNot recommended: {item.category or ', '.join(item.agents)}: {item.reason}")
    for advice in result.advice:
        print(f"\nAdvice ({advice.topic}): {advice.text}")
    for caveat in result.caveats:
        print(f"\nNote: {caveat}")
    print(f"\n{result.disclaimer}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "examples/hr_positive_bone.yaml"))

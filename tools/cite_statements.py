#!/usr/bin/env python3
"""Rewrite excerpts written in rule files as citations of statement ids.

Rules cite statements of the inventory (``rules/statements.yaml``) by id; an excerpt is written
only there. A rule written the old way (``- source: acs / section: ... / excerpt: ...``) is
converted here: each excerpt becomes the ids of the statements it is made of (one statement, or
consecutive statements of the same source, leaving out those marked ``no_rule``), or of the one
statement it stands in.

    python tools/cite_statements.py [RULES_DIR]

Excerpts matching no statement are listed and left as they are (the loader then reports them);
add the sentence to the inventory first. A citation that carried ``population: women`` where
the statement does not is reported too: population belongs to the statement.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

_TYPOGRAPHY = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-", "\u2013": "-"}
)


def normalise(text: str) -> str:
    return " ".join(text.translate(_TYPOGRAPHY).replace("\u2022", " ").split()).casefold()


def statement_ids(citation: dict[str, Any], statements: list[dict[str, Any]]) -> list[str]:
    """The ids a written citation stands for; empty when none matches."""
    wanted = normalise(str(citation.get("excerpt", "")))
    same_source = [s for s in statements if s["source"] == citation.get("source")]
    exact = [s for s in same_source if normalise(s["excerpt"]) == wanted]
    if exact:
        in_section = [s for s in exact if s["section"] == citation.get("section")] or exact
        return [in_section[0]["id"]]
    for start, first in enumerate(same_source):
        text = normalise(first["excerpt"])
        if not wanted.startswith(text):
            continue
        run = [first["id"]]
        for following in same_source[start + 1 :]:
            if len(text) >= len(wanted):
                break
            text += " " + normalise(following["excerpt"])
            run.append(following["id"])
        if text == wanted:
            return run
    containing = [s for s in same_source if wanted and wanted in normalise(s["excerpt"])]
    return [containing[0]["id"]] if len(containing) == 1 else []


def convert(path: Path, statements: list[dict[str, Any]]) -> list[str]:
    """Rewrite one rule file in place; returns what could not be converted."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    by_id = {s["id"]: s for s in statements}
    problems: list[str] = []
    replacement: dict[str, list[str]] = {}
    for rule in data.get("rules") or []:
        cited: list[str] = []
        for citation in rule.get("citations") or []:
            if isinstance(citation, str):
                cited.append(citation)
                continue
            ids = statement_ids(citation, statements)
            if not ids:
                problems.append(f"{path.name} [{rule.get('id')}]: no statement for {citation}")
                break
            if len(ids) > 1:
                # Context sentences of a span that the inventory says carry no rule (what a
                # drug is, how it is given) are not cited; the guidance sentences are.
                ids = [i for i in ids if not by_id[i].get("no_rule")] or ids
            for sid in ids:
                if citation.get("population") and not by_id[sid].get("population"):
                    problems.append(f"{path.name} [{rule.get('id')}]: {sid} lacks population")
                if sid not in cited:
                    cited.append(sid)
        else:
            replacement[str(rule.get("id"))] = cited
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    rule_id = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if match := re.match(r"^  - id: (\S+)", line):
            rule_id = match.group(1)
        if line == "    citations:" and rule_id in replacement:
            index += 1
            while index < len(lines) and (
                lines[index].startswith("      ") or not lines[index].strip()
            ):
                index += 1
            out.append(line)
            out += [f"      - {sid}" for sid in replacement[rule_id]]
            continue
        out.append(line)
        index += 1
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return problems


def main() -> int:
    rules = Path(sys.argv[1] if len(sys.argv) > 1 else "rules")
    inventory = yaml.safe_load((rules / "statements.yaml").read_text(encoding="utf-8"))
    statements = inventory["statements"]
    problems = []
    for path in sorted(rules.glob("*.yaml")):
        if path.name in {"statements.yaml", "sources.yaml", "vocabulary.yaml", "drug_classes.yaml"}:
            continue
        problems += convert(path, statements)
    print("\n".join(problems) if problems else "every citation cites statement ids")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Generated reference documents: ``docs/facts.md``, ``docs/coverage.md``, ``docs/profile.md``.

Run ``python -m mbc_rules.docs [DOCS_DIR]`` (``make docs``) after changing facts, rules or
coverage; the test suite fails while a generated file is stale.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from mbc_rules.facts import facts_markdown
from mbc_rules.rulebase import Rulebase


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def coverage_markdown(rulebase: Rulebase) -> str:
    """Every statement of every source, with the rules that encode it or why none does."""
    entries = rulebase.coverage
    guidance = [e for e in entries if e.rules]
    lines = [
        "# Coverage of the sources",
        "",
        "<!-- Generated from rules/statements.yaml by `make docs`; do not edit by hand. -->",
        "",
        "Each statement of the five source documents, in the order of the text, under its id, "
        "with the rules that cite it, or the reason none does. The inventory "
        "(`rules/statements.yaml`) is the only place an excerpt is written: rules cite statement "
        "ids, and the rules column is derived from those citations. Tests fail when a statement "
        "has neither rules nor a reason, when a rule cites a statement marked as carrying no "
        "rule, when an excerpt is not word for word in its source, and when a sentence of a "
        "source is in no statement (`tests/test_statements.py`, which says what page furniture "
        "it skips).",
        "",
        f"{len(entries)} statements: {len(guidance)} encoded by rules, "
        f"{len(entries) - len(guidance)} with a reason. {len(rulebase.rules)} rules.",
        "",
        "| source | publisher | statements | encoded |",
        "| --- | --- | --- | --- |",
    ]
    per_source = Counter(e.source for e in entries)
    encoded = Counter(e.source for e in guidance)
    for source_id, source in rulebase.sources.items():
        lines.append(
            f"| `{source_id}` | {source.publisher} | {per_source[source_id]} | "
            f"{encoded[source_id]} |"
        )
    for source_id, source in rulebase.sources.items():
        lines += ["", f"## {source.publisher} (`{source_id}`): {source.title}", ""]
        lines += [
            "| id | section | statement | rules, or why none |",
            "| --- | --- | --- | --- |",
        ]
        for entry in (e for e in entries if e.source == source_id):
            how = (
                ", ".join(f"`{r}`" for r in entry.rules)
                if entry.rules
                else f"*{_cell(entry.no_rule or 'NOT YET ENCODED')}*"
            )
            lines.append(
                f"| `{entry.id}` | {_cell(entry.section)} | {_cell(entry.excerpt)} | {how} |"
            )
    return "\n".join(lines) + "\n"


def profile_markdown() -> str:
    """The profile reference, generated from the JSON Schema of ``PatientProfile``."""
    from mbc_rules.schemas import json_schema

    schema = json_schema("profile")
    definitions = schema.get("$defs", {})
    lines = [
        "# Profile reference",
        "",
        "<!-- Generated from the JSON Schema by `make docs`; do not edit by hand. -->",
        "",
        "The field names and values below are the public contract of the input: applications "
        "and the JSON Schema (`mbc-rules schema profile`) depend on them, and they are only "
        "ever added to, never renamed. Unknown fields are rejected; every status defaults to "
        "`unknown`, and unknown is never read as negative. Likewise an unknown history is not "
        "'no history': an omitted `prior_therapies` (or `complications`) means not known, and "
        "`[]` means none. An answer given without them assumes no earlier treatment (no "
        "complication) and says so in its caveats; the informative tests name the treatments "
        "(and complications) that would change it.",
        "",
        "| field | values | default | meaning |",
        "| --- | --- | --- | --- |",
    ]

    def values(spec: dict[str, object]) -> str:
        if "enum" in spec:
            return ", ".join(f"`{v}`" for v in spec["enum"])  # type: ignore[attr-defined]
        if "anyOf" in spec:
            return " or ".join(values(s) for s in spec["anyOf"])  # type: ignore[attr-defined]
        if spec.get("type") == "array":
            return "list of " + values(spec.get("items", {}))  # type: ignore[arg-type]
        if "$ref" in spec:
            return f"`{str(spec['$ref']).rsplit('/', 1)[-1]}` (below)"
        return f"{spec.get('type', 'any')}"

    def rows(properties: dict[str, dict[str, object]], required: list[str]) -> list[str]:
        out = []
        for name, spec in properties.items():
            if name in required:
                shown = "(required)"
            elif "default" not in spec:
                shown = "`[]`"  # a list field whose default is empty
            else:
                shown = "`null`" if spec["default"] is None else f"`{spec['default']}`"
            meaning = _cell(str(spec.get("description", "")))
            out.append(f"| `{name}` | {values(spec)} | {shown} | {meaning} |")
        return out

    lines += rows(schema["properties"], schema.get("required", []))
    for name, definition in definitions.items():
        lines += ["", f"## `{name}`", "", _cell(str(definition.get("description", ""))), ""]
        lines += ["| field | values | default | meaning |", "| --- | --- | --- | --- |"]
        lines += rows(definition["properties"], definition.get("required", []))
    return "\n".join(lines + _spellings()) + "\n"


def _spellings() -> list[str]:
    from mbc_rules.profile import MENOPAUSAL_SPELLINGS, SEX_SPELLINGS, STATUS_SPELLINGS

    lines = [
        "",
        "## Spellings read",
        "",
        "The statuses, `menopausal_status` and `sex` are read in any case, with surrounding "
        "spaces ignored, and in these common clinical spellings too (in single evaluations, "
        "JSON and frames alike). Anything else is an error whose message shows the value "
        "given; nothing else is guessed (`HER2+`, `3` or `positve` are errors, not readings).",
        "",
        "| field | written | read as |",
        "| --- | --- | --- |",
    ]
    for fields, spellings in (
        ("the six statuses", STATUS_SPELLINGS),
        ("`menopausal_status`", MENOPAUSAL_SPELLINGS),
        ("`sex`", SEX_SPELLINGS),
    ):
        for written, read in spellings.items():
            if written != read:
                lines.append(f"| {fields} | `{written}` | `{read}` |")
    lines += [
        "",
        "## Frames",
        "",
        "`evaluate_frame` reads a frame as people have it: columns that are not profile fields "
        'are ignored with one warning naming them (`extra="forbid"` makes them an error); '
        'an empty cell (None, NaN, `""`, blanks) leaves its field unknown; a list field also '
        'reads a delimited string (`"bone; lung"`, `"bone,lung"`), and in '
        "`prior_therapies` each name is a drug whose outcome is unknown; the `patient_id` may "
        "be any hashable value (the tables keep it as given, the profile reads its text); a "
        "row without one is named by its index label. A repeated id makes each row that "
        "carries it an error row.",
    ]
    return lines


def write_docs(directory: Path, rulebase: Rulebase) -> list[Path]:
    """Write every generated document into ``directory``; returns the paths written."""
    written = []
    for name, text in (
        ("facts.md", facts_markdown()),
        ("coverage.md", coverage_markdown(rulebase)),
        ("profile.md", profile_markdown()),
    ):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """Write every generated document into the folder ``argv[0]`` (``docs`` by default)."""
    directory = Path(argv[0]) if argv else Path("docs")
    for path in write_docs(directory, Rulebase.bundled(engine="python")):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Stage 1, load: read rule files as plain data while keeping the line of every node.

PyYAML's ``safe_load`` forgets where things were; we compose the node graph ourselves so that
any later error (schema, references, examples) can point at ``file:line``. Only the YAML core
schema is constructed: a ``!!python/...`` tag is reported as a problem, never executed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mbc_rules.errors import Problem

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedFile:
    """One rule file's data, with the 1-based line of each node keyed by its path in the data."""

    path: Path
    data: Any
    lines: dict[PathKey, int]
    text: str

    def line_of(self, key: PathKey) -> int | None:
        """The line of the deepest node on ``key`` that the file has (a missing key's parent)."""
        for end in range(len(key), -1, -1):
            line = self.lines.get(key[:end])
            if line is not None:
                return line
        return None


_PLAIN_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


# libyaml's parser keeps the same line marks and is an order of magnitude faster.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Reader:
    def __init__(self, text: str) -> None:
        self._loader = _LOADER(text)
        self.lines: dict[PathKey, int] = {}
        self.problems: list[tuple[int, str]] = []

    def read(self) -> Any:
        try:
            node = self._loader.get_single_node()
        finally:
            self._loader.dispose()
        return None if node is None else self._value(node, ())

    def _value(self, node: yaml.Node, key: PathKey) -> Any:
        self.lines[key] = node.start_mark.line + 1
        expected = _PLAIN_TAGS.get(type(node))
        if expected is not None and node.tag != expected:
            self.problems.append((node.start_mark.line + 1, f"the tag {node.tag!r} is not allowed"))
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            self._loader.flatten_mapping(node)
            for key_node, value_node in node.value:
                name = self._scalar(key_node, key)
                if name in result:
                    self.problems.append((key_node.start_mark.line + 1, f"duplicate key {name!r}"))
                    continue
                result[name] = self._value(value_node, (*key, name))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._value(item, (*key, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, key)

    def _scalar(self, node: yaml.Node, key: PathKey) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.problems.append((node.start_mark.line + 1, "a mapping key must be a plain value"))
            return f"<unreadable key at line {node.start_mark.line + 1}>"
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as error:
            self.problems.append((node.start_mark.line + 1, _first_line(str(error.problem))))
            return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unreadable YAML"


def parse_yaml(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """Parse YAML (or JSON) text the way rule files are parsed: returns the data and the
    problems as (line, message), a duplicate key or a tag among them.

    Raises:
        yaml.YAMLError: the text is not YAML (``MarkedYAMLError`` carries the line).
    """
    reader = _Reader(text)
    return reader.read(), reader.problems


def read_rule_file(path: Path) -> tuple[LoadedFile | None, list[Problem]]:
    """Parse one YAML file. Returns the file (None when it cannot be parsed) and its problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(path, None, None, f"cannot be read: {error}")]
    reader = _Reader(text)
    try:
        data = reader.read()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"YAML syntax error: {error.problem or error.context}"
        return None, [Problem(path, line, None, message)]
    except yaml.YAMLError as error:
        return None, [Problem(path, None, None, f"YAML error: {_first_line(str(error))}")]
    problems = [Problem(path, line, None, message) for line, message in reader.problems]
    return LoadedFile(path, data, reader.lines, text), problems


def rule_files(directory: Path) -> Iterator[Path]:
    """The YAML files of a rule directory, in a stable order."""
    yield from sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"})

"""Stage 1, load: read rule files as plain data while keeping the line of every node.

PyYAML's ``safe_load`` forgets where things were, so we build the data ourselves from the
parser's event stream, keeping the line of every node. Only the YAML core schema is
constructed: a ``!!python/...`` tag is reported as a problem, never executed.

A rule directory may be hostile or broken, and reading it must never hang, exhaust memory or
crash the process. Hence the limits, each reported as a located problem:

* only regular files are read (a FIFO would block forever, ``/dev/zero`` never ends), and
  only up to ``MAX_FILE_BYTES``;
* the data is built with an explicit stack, never by recursion: PyYAML's own composer recurses
  once per nesting level and overflows the C stack (a segfault) on a few thousand ``[``;
  nesting deeper than ``MAX_DEPTH`` is refused;
* an alias may not refer to a node that is still open (``x: &x [*x]``), and the data, with
  every alias expanded, may hold at most ``MAX_NODES`` nodes (a "billion laughs" file of a
  few hundred bytes would otherwise expand to gigabytes);
* a folder or file that cannot be read is a problem, never silently skipped;
* a source document must lie inside the sources folder and be UTF-8 text.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mbc_rules.errors import Problem

if TYPE_CHECKING:
    import yaml

PathKey = tuple[str | int, ...]

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_SOURCE_BYTES = 8 * 1024 * 1024


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


def _loader() -> type[yaml.SafeLoader]:
    # PyYAML is imported when a file is first parsed: a bundled rule set already checked
    # (``cache``) is loaded without it. libyaml's parser keeps the same line marks and is an
    # order of magnitude faster.
    import yaml

    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_UNSEEN = object()
_MERGE = object()  # the merge key ``<<``, told apart from a quoted "<<"
_KEY = "\0key"  # where a mapping key's own marks go: no data path holds it


class _LimitError(Exception):
    """The file exceeds a limit; reading stops at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class _Open:
    """A mapping or sequence being built."""

    value: dict[Any, Any] | list[Any] | None  # None: refused (bad tag); its content is skipped
    key: PathKey
    anchor: str | None
    first_line_item: int
    nodes_before: int
    pending_key: Any = None
    has_key: bool = False
    merges: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class _Anchored:
    value: Any
    key: PathKey
    line_items: tuple[tuple[PathKey, int], ...]
    nodes: int


class _Builder:
    """Builds plain data and line marks from YAML events, without recursion."""

    def __init__(self, text: str) -> None:
        # The stubs leave the parser untyped; its events are typed below.
        self._loader: Any = _loader()(text)
        self.lines: dict[PathKey, int] = {}
        self._line_items: list[tuple[PathKey, int]] = []
        self.problems: list[tuple[int, str]] = []
        self._anchors: dict[str, _Anchored] = {}
        self._open_anchors: set[str] = set()
        self._nodes = 0
        self._plain: dict[tuple[str, Any], Any] = {}

    def read(self) -> Any:
        try:
            return self._read()
        finally:
            self._loader.dispose()

    def _read(self) -> Any:
        import yaml

        loader = self._loader
        stack: list[_Open] = []
        document: Any = None
        documents = 0
        while True:
            event = loader.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                return document
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _LimitError(_line(event), "a rule file holds one YAML document only")
                continue
            if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = stack.pop()
                value = self._close(done)
                if not stack:
                    document = value
                else:
                    self._place(stack[-1], value, done.key, event)
                continue
            line = _line(event)
            parent = stack[-1] if stack else None
            key = self._child_key(parent)
            if isinstance(event, yaml.AliasEvent):
                value = self._alias(event, line, key)
                if parent is None:
                    document = value
                else:
                    self._place(parent, value, key, event)
                continue
            self._count(line)
            first_item = len(self._line_items)
            if isinstance(event, yaml.ScalarEvent):
                value = self._scalar(event, line)
                if parent is None or parent.value is not None:
                    self._mark(key, line)
                if event.anchor is not None:
                    self._anchors[event.anchor] = _Anchored(
                        value, key, tuple(self._line_items[first_item:]), 1
                    )
                if parent is None:
                    document = value
                else:
                    self._place(parent, value, key, event)
                continue
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise _LimitError(
                        line, f"nesting deeper than {MAX_DEPTH} levels is not allowed"
                    )
                mapping = isinstance(event, yaml.MappingStartEvent)
                node_type = yaml.MappingNode if mapping else yaml.SequenceNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(node_type, None, event.implicit)
                skipped = parent is not None and parent.value is None
                container: dict[Any, Any] | list[Any] | None = {} if mapping else []
                if tag != (_MAP_TAG if mapping else _SEQ_TAG) or skipped:
                    if not skipped:
                        self.problems.append((line, f"the tag {event.tag!r} is not allowed"))
                    container = None
                if not skipped:
                    self._mark(key, line)
                if event.anchor is not None:
                    self._open_anchors.add(event.anchor)
                stack.append(_Open(container, key, event.anchor, first_item, self._nodes))
                continue
            raise _LimitError(line, f"unexpected YAML event {type(event).__name__}")

    def _count(self, line: int, nodes: int = 1) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise _LimitError(
                line,
                f"the file expands to more than {MAX_NODES} values (aliases counted each "
                "time they are used); refusing it",
            )

    def _mark(self, key: PathKey, line: int) -> None:
        self.lines[key] = line
        self._line_items.append((key, line))

    @staticmethod
    def _child_key(parent: _Open | None) -> PathKey:
        if parent is None:
            return ()
        if isinstance(parent.value, list):
            return (*parent.key, len(parent.value))
        if isinstance(parent.value, dict) and parent.has_key:
            name = parent.pending_key
            return (*parent.key, name if isinstance(name, (str, int)) else str(name))
        # A mapping key, or anything inside a refused node, is kept apart from the data's paths.
        return (*parent.key, _KEY)

    def _scalar(self, event: yaml.ScalarEvent, line: int) -> Any:
        loader = self._loader
        tag = event.tag
        if tag is None or tag == "!":
            # Rule files repeat the same few keys and values: each is resolved and built once.
            seen = (event.value, event.implicit)
            known = self._plain.get(seen, _UNSEEN)
            if known is not _UNSEEN:
                return known
            import yaml

            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == _STR_TAG:
                self._plain[seen] = event.value
                return event.value
            if tag == _MERGE_TAG:
                return _MERGE
            value = self._construct(tag, event, line)
            if isinstance(value, (int, float, bool, type(None))):
                self._plain[seen] = value
            return value
        if tag == _MERGE_TAG:
            return _MERGE
        return self._construct(tag, event, line)

    def _construct(self, tag: str, event: yaml.ScalarEvent, line: int) -> Any:
        import yaml

        loader = self._loader
        start: Any = event.start_mark
        node = yaml.ScalarNode(tag, event.value, start, event.end_mark, event.style)  # type: ignore[arg-type]
        try:
            return loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as error:
            self.problems.append((line, _first_line(str(error.problem))))
            return None

    def _alias(self, event: yaml.AliasEvent, line: int, key: PathKey) -> Any:
        name = event.anchor or ""
        if name in self._open_anchors:
            raise _LimitError(line, f"the alias *{name} refers to a node that contains it")
        anchored = self._anchors.get(name)
        if anchored is None:
            raise _LimitError(line, f"the alias *{name} names no anchor")
        self._count(line, anchored.nodes)
        return self._expand(anchored, key)

    def _close(self, done: _Open) -> Any:
        value = done.value
        if isinstance(value, dict) and done.merges:
            for merged in done.merges:
                for name, item in merged.items():
                    value.setdefault(name, item)
        if done.anchor is not None:
            self._open_anchors.discard(done.anchor)
            items = tuple(self._line_items[done.first_line_item :])
            nodes = self._nodes - done.nodes_before + 1
            self._anchors[done.anchor] = _Anchored(value, done.key, items, nodes)
        return value

    def _place(self, parent: _Open, value: Any, key: PathKey, event: yaml.Event) -> None:
        container = parent.value
        if container is None:
            return
        if isinstance(container, list):
            container.append(value)
            return
        if not parent.has_key:
            line = _line(event)
            if not _hashable(value):
                self.problems.append((line, "a mapping key must be a plain value"))
                value = f"<unreadable key at line {line}>"
            parent.pending_key, parent.has_key = value, True
            return
        name = parent.pending_key
        parent.has_key = False
        if name is _MERGE:
            merged = value if isinstance(value, list) else [value]
            if all(isinstance(m, dict) for m in merged):
                parent.merges.extend(merged)
            else:
                self.problems.append((_line(event), "<< must merge a mapping or a list of them"))
            return
        if name in container:
            self.problems.append((_line(event), f"duplicate key {name!r}"))
            return
        container[name] = value

    def _expand(self, anchored: _Anchored, key: PathKey) -> Any:
        # Each use of an alias gets its own copy (bounded by MAX_NODES), and the lines of the
        # anchored node, so that errors inside it point at where it was written.
        prefix = len(anchored.key)
        for item_key, line in anchored.line_items:
            moved = (*key, *item_key[prefix:])
            self.lines.setdefault(moved, line)
            self._line_items.append((moved, line))
        return _copy(anchored.value)


def _copy(value: Any) -> Any:
    if not isinstance(value, (dict, list)):
        return value
    top: Any = {} if isinstance(value, dict) else []
    work: list[tuple[Any, Any]] = [(value, top)]
    while work:
        source, target = work.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for name, item in items:
            copied = item
            if isinstance(item, (dict, list)):
                copied = {} if isinstance(item, dict) else []
                work.append((item, copied))
            if isinstance(target, dict):
                target[name] = copied
            else:
                target.append(copied)
    return top


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unreadable YAML"


def read_limited(path: Path, limit: int, what: str) -> tuple[bytes | None, str | None]:
    """The bytes of a regular file of at most ``limit`` bytes, or why it cannot be read.

    The file is opened without blocking and checked on the open descriptor, so a FIFO, a
    device such as ``/dev/zero`` (also behind a symlink) or a file swapped in between the
    check and the read is refused, never waited on or read without end.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        return None, f"cannot be read: {error.strerror or error}"
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            return None, f"is not a regular file; a {what} must be one"
        if status.st_size > limit:
            return None, f"is {status.st_size} bytes; a {what} may have at most {limit}"
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                return None, f"grew beyond {limit} bytes while read; a {what} may not"
            chunks.append(chunk)
        return b"".join(chunks), None
    except OSError as error:
        return None, f"cannot be read: {error.strerror or error}"
    finally:
        os.close(descriptor)


def parse_yaml(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """Parse YAML (or JSON) text the way rule files are parsed, with the same limits.

    Returns the data and the problems as (line, message): a duplicate key, a tag, or a limit
    (the data is then None).

    Raises:
        yaml.YAMLError: the text is not YAML (``MarkedYAMLError`` carries the line).
    """
    builder = _Builder(text)
    try:
        return builder.read(), builder.problems
    except _LimitError as refused:
        return None, [(refused.line, refused.message)]


def read_rule_file(path: Path) -> tuple[LoadedFile | None, list[Problem]]:
    """Parse one YAML file. Returns the file (None when it cannot be parsed) and its problems."""
    import yaml

    content, refusal = read_limited(path, MAX_FILE_BYTES, "rule file")
    if content is None:
        return None, [Problem(path, None, None, refusal or "cannot be read")]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [Problem(path, None, None, f"is not UTF-8 text: {error.reason}")]
    builder = _Builder(text)
    try:
        data = builder.read()
    except _LimitError as refused:
        return None, [Problem(path, refused.line or None, None, refused.message)]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"YAML syntax error: {error.problem or error.context}"
        return None, [Problem(path, line, None, message)]
    except yaml.YAMLError as error:
        return None, [Problem(path, None, None, f"YAML error: {_first_line(str(error))}")]
    except (RecursionError, MemoryError, ValueError) as error:  # pragma: no cover - defensive
        return None, [Problem(path, None, None, f"cannot be read: {type(error).__name__}")]
    problems = [Problem(path, line, None, message) for line, message in builder.problems]
    return LoadedFile(path, data, builder.lines, text), problems


def find_rule_files(directory: Path) -> tuple[list[Path], list[Problem]]:
    """The YAML files below ``directory`` in a stable order, and the folders that cannot be read.

    Symlinked folders are followed once each (a link back up the tree is not a loop).
    """
    found: list[Path] = []
    problems: list[Problem] = []
    seen: set[tuple[int, int]] = set()

    def unreadable(error: OSError) -> None:
        where = Path(error.filename) if error.filename else directory
        problems.append(Problem(where, None, None, f"cannot be read: {error.strerror or error}"))

    for folder, folders, files in os.walk(directory, onerror=unreadable, followlinks=True):
        try:
            status = os.stat(folder)
        except OSError as error:  # pragma: no cover - the walk has just listed it
            unreadable(error)
            folders[:] = []
            continue
        identity = (status.st_dev, status.st_ino)
        if identity in seen:
            folders[:] = []
            continue
        seen.add(identity)
        folders.sort()
        found.extend(Path(folder) / name for name in files if name.endswith((".yaml", ".yml")))
    return sorted(found), problems


def rule_files(directory: Path) -> Iterator[Path]:
    """The YAML files of a rule directory, in a stable order (unreadable folders skipped)."""
    yield from find_rule_files(directory)[0]


def read_source_document(sources_dir: Path, document: str) -> tuple[str | None, Problem | None]:
    """The text of a source document, which must be a UTF-8 file inside ``sources_dir``."""
    folder = sources_dir.resolve()
    path = (sources_dir / document).resolve()
    if not path.is_relative_to(folder):
        where = sources_dir / document
        message = f"the source document {document!r} lies outside the sources folder {folder}"
        return None, Problem(where, None, None, message)
    content, refusal = read_limited(path, MAX_SOURCE_BYTES, "source document")
    if content is None:
        return None, Problem(path, None, None, refusal or "cannot be read")
    if b"\0" in content:
        return None, Problem(path, None, None, "is not a text file (it holds NUL bytes)")
    try:
        return content.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return None, Problem(path, None, None, f"is not UTF-8 text: {error.reason}")

"""What a check that passed leaves behind: the user's cache folder, and the checked bundled rules.

Loading a rule set runs every check on it (parse, schema, rule examples, durable-rules in a
child process): a bad rule file fails at load. For the bundled rule set, whose files do not
change between two loads, that work proves the same thing each time, so after a load that
passed, the validated rule set is kept here under a key that names everything it was derived
from:

* the content hash of the bundled rule files (every file, by name, and the package version:
  ``rulebase.content_hash``), read and hashed afresh at every load;
* the package's own source (every ``.py`` file of ``mbc_rules``), so that a code change in a
  checkout, where the version stays the same, is never answered from an older cache;
* the versions of Python, pydantic and pydantic-core, which build and pickle the models.

A changed byte in any of these is another key, and the full checks run again. The entry is the
validated ``RuleSet`` (sources, vocabulary, rules, inventory, version and hash); the rulebase
is compiled over it afresh. durable-rules' child-process check is remembered on
its own, keyed by the build of durable-rules too (``engine.durable``).

The entry is a pickle, which executes code when read: it is only read from a folder and file
owned by the current user that no one else may write to (as ssh treats its keys), and it is
written to a private temporary file then renamed, so a reader never sees half a file. Anything
unexpected (missing, unreadable, foreign, corrupt, another key) is a miss: the cache is a
speed-up, never required. Entries not written again for ``STALE_DAYS`` are removed when
another is written. ``MBC_RULES_CACHE`` names the folder (default
``$XDG_CACHE_HOME/mbc-rules`` or ``~/.cache/mbc-rules``); ``off`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import stat
import sys
import time
from pathlib import Path
from typing import Protocol, TypeVar

_FORMAT = "2"
STALE_DAYS = 30


class Checked(Protocol):
    """What is remembered: a value that names the content hash it was checked for."""

    @property
    def content_hash(self) -> str:
        """The hash of the rule files (and the package version) it was built from."""
        ...


Kept = TypeVar("Kept", bound=Checked)


def cache_dir() -> Path | None:
    """The folder checks that passed are remembered in (None: remembering is off)."""
    setting = os.environ.get("MBC_RULES_CACHE")
    if setting is not None:
        return Path(setting) if setting not in ("", "0", "off") else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mbc-rules"


@functools.cache
def code_digest() -> str:
    """SHA-256 of the package's source: every ``.py`` file below ``mbc_rules``, by name."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _checked_key(content_hash: str) -> str:
    import pydantic
    import pydantic_core

    digest = hashlib.sha256()
    parts = (
        _FORMAT,
        content_hash,
        code_digest(),
        sys.version,
        pydantic.VERSION,
        pydantic_core.__version__,
    )
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _private(status: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # pragma: no cover - no owners to check (Windows): never read a pickle
        return False
    return status.st_uid == getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read_checked(content_hash: str, kind: type[Kept]) -> Kept | None:
    """The rule set (a ``kind``) remembered as checked for ``content_hash`` with this code, or
    None.
    """
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"checked-{_checked_key(content_hash)}.pickle"
    try:
        if not (_private(os.stat(folder)) and _private(os.lstat(path))):
            return None
        with open(path, "rb") as stream:
            if not _private(os.fstat(stream.fileno())):
                return None
            entry = pickle.load(stream)
    except Exception:  # a cache that cannot be read is a miss, whatever the cause
        return None
    if not isinstance(entry, kind) or entry.content_hash != content_hash:
        return None
    return entry


def remember_checked(ruleset: Checked) -> None:
    """Keep a rule set that passed every check."""
    folder = cache_dir()
    if folder is None:
        return
    import tempfile  # only a rule set just checked is written

    path = folder / f"checked-{_checked_key(ruleset.content_hash)}.pickle"
    with contextlib.suppress(OSError, pickle.PicklingError, TypeError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(os.stat(folder)):
            return
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".checked-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                pickle.dump(ruleset, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        _forget_stale(folder, keep=path)


def _forget_stale(folder: Path, keep: Path) -> None:
    # Each code or rule change in a checkout leaves an entry (about 250 KB) that no load will
    # ask for again; entries not rewritten for ``STALE_DAYS`` go. One still in use is at worst
    # checked and written again once.
    cutoff = time.time() - STALE_DAYS * 86400
    for entry in folder.glob("checked-*.pickle"):
        with contextlib.suppress(OSError):
            if entry != keep and entry.lstat().st_mtime < cutoff:
                entry.unlink()

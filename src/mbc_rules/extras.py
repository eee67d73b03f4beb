"""The optional dependencies (pip extras), imported where first needed.

The core needs pydantic, durable-rules and pyyaml only; cohorts need pandas, Parquet pyarrow,
plots matplotlib. Each is imported when a function first needs it, and its absence is one
located error that names the extra to install, never an ImportError from inside the library.
"""

from __future__ import annotations

import importlib
from typing import Any

from mbc_rules.errors import MissingExtraError


def optional(module: str, extra: str) -> Any:
    """``module``, imported; :class:`MissingExtraError` naming ``extra`` where it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(module.split(".")[0], extra) from error


def pandas_module() -> Any:
    """The pandas module (the ``pandas`` extra)."""
    return optional("pandas", "pandas")

"""An optional dependency that is missing is one error naming the extra to install."""

from __future__ import annotations

import builtins
import importlib
from typing import Any

import pytest

from mbc_rules import MbcRulesError, extras
from mbc_rules.errors import MissingExtraError


@pytest.fixture
def no_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    monkeypatch.setattr(importlib, "import_module", lambda name: refuse(name))


def test_a_missing_extra_names_the_package_and_the_extra(no_pandas: None) -> None:
    with pytest.raises(MissingExtraError) as caught:
        extras.pandas_module()
    error = caught.value
    assert str(error) == "pandas is needed for this; install mbc-rules[pandas]"
    assert (error.package, error.extra) == ("pandas", "pandas")
    # Caught by those who catch the library's errors, and by those who catch ImportError.
    assert isinstance(error, MbcRulesError)
    assert isinstance(error, ImportError)


def test_a_cohort_without_pandas_says_which_extra_to_install(no_pandas: None) -> None:
    from mbc_rules.cohort.frames import evaluate_frame

    with pytest.raises(MissingExtraError, match=r"install mbc-rules\[pandas\]"):
        evaluate_frame([{"er_status": "positive"}])


def test_an_installed_extra_is_the_module_itself() -> None:
    import json

    assert extras.optional("json", "none") is json

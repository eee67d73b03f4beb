"""An engine failure mid-evaluation leaves nothing behind; the fallback engine warns once."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from mbc_rules import EngineError, Rulebase
from mbc_rules import engine as engine_module
from mbc_rules.bundled import bundled_rules_dir
from mbc_rules.compile import compile_rules
from mbc_rules.engine import DurableMatcher, PythonMatcher, _import_durable, make_matcher

PROFILE = {"er_status": "positive", "her2_status": "negative", "metastatic_sites": ["bone"]}


class FailingEngine:
    """Wraps the C engine and fails once, in the middle of draining the actions."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.failures_left = 1
        self.deleted: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def complete_and_start_action(self, handle: int, state: int) -> Any:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("injected failure")
        return self.real.complete_and_start_action(handle, state)

    def delete_state(self, handle: int, session: str) -> None:
        self.deleted.append(session)
        self.real.delete_state(handle, session)


@pytest.mark.skipif(_import_durable() is None, reason="durable-rules does not import here")
def test_a_failure_mid_evaluation_leaves_no_state_and_the_next_is_correct() -> None:
    rulebase = Rulebase.load(bundled_rules_dir(), engine="durable")
    expected = Rulebase.bundled(engine="python").evaluate(PROFILE)
    matcher = rulebase._matcher
    assert isinstance(matcher, DurableMatcher)
    failing = FailingEngine(matcher._engine)
    matcher._engine = failing  # type: ignore[assignment]
    with pytest.raises(EngineError, match="injected failure"):
        rulebase.evaluate(PROFILE)
    assert failing.deleted == ["0"]  # the session of the failed evaluation was deleted
    with pytest.raises(Exception):  # noqa: B017, PT011 - the engine has no state for it any more
        failing.real.get_state(matcher._handle, "0")
    assert rulebase.evaluate(PROFILE).model_dump_json() == expected.model_dump_json()
    assert rulebase.evaluate(PROFILE).model_dump_json() == expected.model_dump_json()


def test_where_durable_rules_cannot_import_auto_falls_back_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "_import_durable", lambda: None)
    monkeypatch.setattr(engine_module, "_warned_fallback", False)
    compiled = compile_rules(Rulebase.bundled(engine="python").rules)
    with pytest.warns(RuntimeWarning, match="plain-Python matcher"):
        first = make_matcher(compiled, "auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = make_matcher(compiled, "auto")
    assert isinstance(first, PythonMatcher)
    assert isinstance(second, PythonMatcher)
    with pytest.raises(EngineError, match="not importable"):
        make_matcher(compiled, "durable")

"""The mutation list (tools/mutation.py) stays in step with the code.

``make mutation`` takes minutes, so it is not run with the suite; but a mutation whose text is
no longer in the source can never be caught and would hide a blind spot, so every entry is
checked here, on every run: its text occurs exactly once, and the mutated file still compiles.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from .conftest import ROOT


def mutation_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutation_tool", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_mutation_applies_once_and_compiles() -> None:
    tool = mutation_tool()
    assert tool.not_applicable(tool.MUTATIONS, ROOT) == []
    names = [m.name for m in tool.MUTATIONS]
    assert len(names) == len(set(names))
    for mutation in tool.MUTATIONS:
        assert mutation.old != mutation.new, mutation.name
        text = (ROOT / mutation.file).read_text(encoding="utf-8")
        compile(text.replace(mutation.old, mutation.new), mutation.file, "exec")


def test_a_stale_mutation_is_reported() -> None:
    tool = mutation_tool()
    file = "src/mbc_rules/rank/arrange.py"
    stale = tool.Mutation("stale", file, "no such text", "x", "a test")
    twice = tool.Mutation("twice", file, "def ", "def  ", "a test")
    missing = tool.Mutation("missing", "src/mbc_rules/nowhere.py", "a", "b", "a test")
    assert tool.not_applicable([stale, twice, missing, *tool.MUTATIONS[:1]], ROOT) == [
        f"stale: its text is in {file} 0 times, not once",
        f"twice: its text is in {file} "
        f"{(ROOT / file).read_text(encoding='utf-8').count('def ')} times, not once",
        "missing: src/mbc_rules/nowhere.py does not exist",
    ]


def test_the_fast_suite_holds_the_tests_of_the_new_seams() -> None:
    suite = mutation_tool().FAST_SUITE
    for name in (
        "tests/test_ranking_reasons.py",
        "tests/test_architecture.py",
        "tests/test_settle.py",
    ):
        assert name in suite
    # Each entry is a test file, or one test of a file (pytest's node id), that exists.
    for name in suite:
        file, _, test = name.partition("::")
        assert (ROOT / file).is_file(), name
        assert not test or f"def {test}(" in (ROOT / file).read_text(encoding="utf-8"), name

"""tools/refresh_printed.py runs the docs' examples as tests/test_docs.py does, and writes back."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from .conftest import ROOT

EXAMPLE = """# Example

```python
import mbc_rules

local = mbc_rules.Rulebase.load("my_rules/")
print(len(local.rules_by_id) > 0)
```

prints:

```text
{printed}```
"""


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "refresh_tool", ROOT / "tools" / "refresh_printed.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_example_loading_my_rules_runs_and_a_current_output_is_left_alone(
    tmp_path: Path,
) -> None:
    tool = _tool()
    page = tmp_path / "page.md"
    page.write_text(EXAMPLE.format(printed="True\n"), encoding="utf-8")
    before = page.stat().st_mtime_ns
    assert tool.refresh(page) == 0
    assert page.read_text(encoding="utf-8") == EXAMPLE.format(printed="True\n")
    assert page.stat().st_mtime_ns == before  # not even rewritten
    assert Path.cwd() != tmp_path  # back where it ran from


def test_a_stale_output_is_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(EXAMPLE.format(printed="False\n"), encoding="utf-8")
    assert _tool().refresh(page) == 1
    assert page.read_text(encoding="utf-8") == EXAMPLE.format(printed="True\n")

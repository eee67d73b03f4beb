"""The outputs shown in docs/service.md, produced by the real server.

``python -m tests.service_docs`` starts ``mbc-rules serve``, sends the page's requests and
rewrites each block between ``<!-- service-output: NAME -->`` and ``<!-- /service-output -->``
with what came back (as ``jq`` prints it); tests/test_service_fhir.py checks that the page still
shows what the server answers.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.servicekit import ROOT, post, request, running_server

PAGE = ROOT / "docs" / "service.md"
EXAMPLES = ROOT / "examples" / "cds-hooks"
_BLOCK = re.compile(
    r"(<!-- service-output: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /service-output -->)",
    re.DOTALL,
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _jq(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def outputs(base: str) -> dict[str, str]:
    """Each block of the page: its fenced code, as the server answers now."""
    services = request(base, "GET", "/cds-services").body["services"]
    cards = post(base, "mbc-rules-patient-view", _example("patient-view.json")).body["cards"]
    hormone = next(c for c in cards if c["summary"].startswith(("#1 Hormone", "#2 Hormone")))
    order = post(base, "mbc-rules-order-select", _example("order-select.json")).body
    bare = {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p1"}}
    refused = post(base, "mbc-rules-patient-view", bare).body
    return {
        "discovery": "\n".join(_jq({k: s[k] for k in ("hook", "id", "title")}) for s in services),
        "patient-view": "\n".join(
            _jq(
                {
                    "indicator": c["indicator"],
                    "summary": c["summary"],
                    "source": c["source"]["label"],
                }
            )
            for c in cards
        ),
        "patient-view-card": hormone["detail"].rstrip("\n"),
        "order-select": _jq(order),
        "412": json.dumps(refused, separators=(",", ":"), ensure_ascii=False),
    }


def fence(name: str, text: str) -> str:
    language = "markdown" if name.endswith("-card") else "json"
    return f"```{language}\n{text}\n```\n"


def shown(page: str) -> dict[str, str]:
    """The blocks the page shows now."""
    return {m["name"]: m["body"] for m in _BLOCK.finditer(page)}


def same(a: str, b: str) -> bool:
    """Equal but for the random uuids of cards."""
    return _UUID.sub("UUID", a) == _UUID.sub("UUID", b)


def main() -> int:
    page = PAGE.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch, running_server(Path(scratch) / "log") as server:
        fresh = outputs(server.base)
    missing = set(fresh) - set(shown(page))
    if missing:
        sys.exit(f"{PAGE}: no block for {', '.join(sorted(missing))}")
    page = _BLOCK.sub(lambda m: m[1] + fence(m["name"], fresh[m["name"]]) + m[4], page)
    PAGE.write_text(page, encoding="utf-8")
    print(f"{PAGE}: {len(fresh)} outputs written")
    return 0


if __name__ == "__main__":
    sys.exit(main())

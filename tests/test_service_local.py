"""The CDS Hooks service with a local layer (``mbc-rules serve --local DIR``), over real HTTP.

The server is the real one on a free port of 127.0.0.1, with the example layer of
``examples/site_rules`` (a trial open here, toremifene not stocked).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mbc_rules import Rulebase
from mbc_rules.service.app import ServiceConfig, create_app
from tests.servicekit import (
    ROOT,
    Server,
    cards_of,
    free_port,
    hook_call,
    hr_positive_record,
    post,
    running_server,
)

PV = "mbc-rules-patient-view"
LAYER = ROOT / "examples" / "site_rules"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("service") / "server.log"
    with running_server(log, "--local", str(LAYER)) as running:
        yield running


def _by_summary(cards: list[dict[str, Any]], start: str) -> dict[str, Any]:
    found = [c for c in cards if c["summary"].startswith(start)]
    assert len(found) == 1, [c["summary"] for c in cards]
    return found[0]


def test_the_cards_show_the_local_offer_the_unavailable_drug_and_the_hash(
    server: Server,
) -> None:
    layered = Rulebase.bundled().with_local(LAYER)
    cards = cards_of(post(server.base, PV, hook_call("patient-view", hr_positive_record())))
    trial = next(c for c in cards if "Clinical trial" in c["summary"])
    assert "local" in trial["summary"]
    assert "**From local rules:** local-example-1-trial" in trial["detail"]
    assert "The EXAMPLE-1 trial is open here" in trial["detail"]
    refused = _by_summary(cards, "Not recommended for this record")
    assert "not available here: toremifene" in refused["summary"]
    assert (
        "**Not available here: toremifene**\n\n"
        "Toremifene is not stocked by this hospital's pharmacy.\n\n"
        "**From local rules:** local-no-toremifene"
    ) in refused["detail"]
    hormone = next(c for c in cards if "Hormone therapy" in c["summary"])
    assert "toremifene" not in hormone["detail"].split("**Why**")[0].lower()
    # Every card names the layered rules: version and the hash over both layers.
    expected = f"Rules {layered.version}, sha256 {layered.content_hash}."
    assert layered.content_hash != Rulebase.bundled().content_hash
    assert all(expected in c["detail"] for c in cards)
    assert "+local-2026.12.1" in server.log_text()


@contextlib.contextmanager
def in_process(rulebase: Rulebase) -> Iterator[str]:
    """The service's app (``create_app``) under uvicorn in a thread of this process."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        create_app(ServiceConfig(rulebase=rulebase)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not running.started:
            assert thread.is_alive(), "the in-process server stopped"
            assert time.monotonic() < deadline, "the in-process server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=30)


def test_in_process_the_layer_shows_and_the_bundled_app_has_none() -> None:
    layered = Rulebase.bundled().with_local(LAYER)
    call = hook_call("patient-view", hr_positive_record())
    with in_process(layered) as base:
        cards = cards_of(post(base, PV, call))
    details = "\n".join(c["detail"] for c in cards)
    assert "**From local rules:** local-example-1-trial" in details
    assert "**Not available here: toremifene**" in details
    assert f"sha256 {layered.content_hash}." in details
    bundled = Rulebase.bundled()
    with in_process(bundled) as base:
        cards = cards_of(post(base, PV, call))
    details = "\n".join(c["detail"] for c in cards)
    assert "From local rules" not in details
    assert "not available here" not in details.lower()
    assert f"sha256 {bundled.content_hash}." in details

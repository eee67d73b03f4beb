"""Load test of the CDS Hooks service: 8 concurrent clients on 127.0.0.1, bounded in count and time.

Usage: python benchmarks/service.py [--requests 400] [--clients 8] [--seconds 120]

Starts ``mbc-rules serve`` on a free local port, then each client posts hook calls (the
examples in ``examples/cds-hooks/``, in turn) over its own keep-alive connection until the
request budget or the time limit is spent. Prints p50 / p90 / p99 latency, throughput and the
errors, beside two yardsticks measured in the same run: the same work done in-process without
HTTP (read the record, evaluate, build the cards), one call at a time; and the discovery call
(HTTP and framework alone).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "cds-hooks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def calls() -> list[tuple[str, bytes]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.json")):
        body = path.read_bytes()
        hook = json.loads(body)["hook"]
        found.append((f"/cds-services/mbc-rules-{hook}", body))
    if not found:
        sys.exit(f"no hook calls in {EXAMPLES}")
    return found


def start_server(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mbc_rules",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("the server exited at start")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/cds-services")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("the server did not start within 120 s")


def in_process_ms(work: list[tuple[str, bytes]], rounds: int) -> float:
    """The same calls answered without HTTP: parse, read the record, evaluate, build cards."""
    from mbc_rules import Rulebase
    from mbc_rules.service.app import ServiceConfig, _Hooks
    from mbc_rules.service.contract import SERVICES
    from mbc_rules.service.hooks import parse_request

    hooks = _Hooks(ServiceConfig(rulebase=Rulebase.bundled()))
    by_hook = {s.id: s for s in SERVICES}
    samples = []
    for index in range(rounds):
        path, body = work[index % len(work)]
        service = by_hook[path.rsplit("/", 1)[1]]
        started = time.perf_counter()
        hooks.answer(service, parse_request(body, service))
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def load(
    port: int, work: list[tuple[str, bytes]], total: int, clients: int, seconds: float
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    budget = iter(range(total))
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                index = next(budget, None)
            if index is None:
                break
            path, body = work[(index + number) % len(work)]
            started = time.perf_counter()
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if response.status != 200 or "cards" not in json.loads(payload):
                        errors.append(f"{path}: {response.status} {payload[:120]!r}")
            except (OSError, http.client.HTTPException, ValueError) as error:
                with lock:
                    errors.append(f"{path}: {type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    work = calls()
    print(
        f"service load test: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {len(work)} hook calls from {EXAMPLES.relative_to(ROOT)}"
    )
    yardstick = in_process_ms(work, 40)
    port = free_port()
    process = start_server(port)
    try:
        discovery = []
        for _ in range(50):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            started = time.perf_counter()
            connection.request("GET", "/cds-services")
            connection.getresponse().read()
            discovery.append((time.perf_counter() - started) * 1000)
            connection.close()
        load(port, work, 2 * len(work), 1, 60)  # warm up: each call once or twice
        latencies, errors, elapsed = load(port, work, args.requests, args.clients, args.seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            stopped = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stopped = -1
    done = len(latencies)
    print(f"yardstick, in-process (no HTTP), one at a time: {yardstick:8.1f} ms per call")
    print(
        f"yardstick, discovery GET (HTTP only):            {statistics.median(discovery):8.1f} ms"
    )
    if done:
        print(
            f"load: {done} requests from {args.clients} clients in {elapsed:.1f} s "
            f"({done / elapsed:.1f} requests/s)"
        )
        print(
            f"latency ms: p50 {percentile(latencies, 0.5):.1f}  "
            f"p90 {percentile(latencies, 0.9):.1f}  p99 {percentile(latencies, 0.99):.1f}  "
            f"max {max(latencies):.1f}"
        )
        print(
            f"p50 / in-process: {percentile(latencies, 0.5) / yardstick:.1f}x "
            f"(8 clients share {os.cpu_count()} cores: queueing, not HTTP, dominates)"
        )
    print(f"errors: {len(errors)}")
    for error in errors[:10]:
        print(f"  {error}")
    print(f"server stopped with status {stopped}")
    return 1 if errors or done < args.requests or stopped != 0 else 0


if __name__ == "__main__":
    sys.exit(main())

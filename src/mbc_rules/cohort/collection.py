"""The cyclic garbage collector held off while a cohort is evaluated, and given back after.

A cohort's input frame holds a few Python objects per row (a history cell is a list of
dicts), and evaluating it adds the answers: millions of objects that live until the end.
CPython's full collections walk every one of them each time the long-lived objects grow by a
quarter, which at 100,000 rows with distinct histories took 30% of the evaluation's CPU time
and freed nothing (measured: 3.0 of 10.1 CPU-s). So while the cohort engines run, the
automatic collector is off, and each chunk of rows (65,536) ends with one full collection:
what a chunk's pandas and Arrow objects leave in reference cycles, with the buffers they hold,
is freed before the next chunk, as the automatic collector would (without it, the peak RSS
of a million rows from Parquet grew from 1.9 to 2.35 GB). That collection is of the young
generations only: the cycles are the chunk's own, made since the last one, while a full
collection would walk the input frame and every answer again (1.7 of 7.5 CPU-s at 100,000
rows with distinct histories). Nested and concurrent evaluations
share one pause: the collector is turned back on when the last of them ends, and only if it
was on when the first began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_LOCK = threading.Lock()
_DEPTH = 0
_RESUME = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Automatic full collections off inside the block (see the module's note)."""
    global _DEPTH, _RESUME
    with _LOCK:
        if _DEPTH == 0:
            _RESUME = gc.isenabled()
            gc.disable()
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0 and _RESUME:
                gc.enable()


def collect_chunk() -> None:
    """While paused: a collection of the young generations after a chunk (what the chunk's
    pandas and Arrow objects left in cycles, with the buffers they hold, is freed before the
    next one).
    """
    if _DEPTH:
        gc.collect(1)

"""The cyclic garbage collector held off while a cohort is evaluated, and given back after.

A cohort's input frame holds a few Python objects per row (a history cell is a list of
dicts), and evaluating it adds the answers: millions of objects that live until the end.
CPython's full collections walk every one of them each time the long-lived objects grow by a
quarter, which at 100,000 rows with distinct histories took 30% of the evaluation's CPU time
and freed nothing (measured: 3.0 of 10.1 CPU-s). The cohort engines make no reference cycles
of their own (measured: 138 unreachable objects after 20,000 rows), so while they run the
automatic collector is off; a chunk's end collects the young generations once millions of
objects were made since the last collection (``YOUNG_BOUND``), so that cycles left behind (an
exception's traceback, say) stay bounded, and the collector frees whatever is left when it is
back on. Nested and concurrent evaluations share one pause: the collector is turned back on
when the last of them ends, and only if it was on when the first began.
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


# Objects made (and not freed) since the last collection after which a chunk's end collects
# the young generations: a bound on what cyclic garbage could hold, not a pace (a collection
# walks every object made since the last one: 0.25 CPU-s after a 65,536-row chunk).
YOUNG_BOUND = 4_000_000


def collect_young() -> None:
    """While paused: collect the young generations once ``YOUNG_BOUND`` objects were made."""
    if _DEPTH and gc.get_count()[0] > YOUNG_BOUND:
        gc.collect(1)

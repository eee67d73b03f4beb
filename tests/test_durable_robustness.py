"""Issue 11, cases 1-3: durable-rules never takes the process down.

Whatever could crash the interpreter runs in a child process, so that a crash is a failed test
rather than a lost test run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mbc_rules import EngineError, Rulebase, RulebaseError
from mbc_rules.bundled import bundled_rules_dir
from mbc_rules.engine import DurableMatcher, _import_durable

pytestmark = pytest.mark.skipif(
    _import_durable() is None, reason="durable-rules does not import here"
)

ROOT = Path(__file__).resolve().parents[1]

PROFILES: list[dict[str, Any]] = [
    {"er_status": e, "her2_status": h, "menopausal_status": m, "metastatic_sites": sites}
    for e in ("positive", "negative", "unknown")
    for h in ("positive", "negative")
    for m in ("postmenopausal", "unknown")
    for sites in (["bone"], ["liver", "lung"])
]


# A suite started in the background of a shell without job control inherits Ctrl-C ignored
# (POSIX), and so would every child: these tests deliver Ctrl-C, so they give it its usual
# meaning first, in this process and in each child.
_CTRL_C_AS_USUAL = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


@pytest.fixture(autouse=True)
def _ctrl_c_as_usual() -> Any:
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def run_child(script: str, timeout: float = 120) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; it must exit cleanly and print one JSON line."""
    child = subprocess.run(
        [sys.executable, "-c", _CTRL_C_AS_USUAL + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        check=False,
    )
    assert child.returncode == 0, f"the child died ({child.returncode}):\n{child.stderr[-3000:]}"
    last: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return last


def test_case_1_sigint_storm_during_evaluate_many_never_kills_the_process() -> None:
    report = run_child(
        f"""
        import json, os, random, signal, threading, time
        from mbc_rules import Rulebase

        profiles = {PROFILES!r} * 4
        durable = Rulebase.bundled(engine="durable")
        python = Rulebase.bundled(engine="python")
        expected = [python.evaluate(p).fired_rules for p in profiles]
        stop = threading.Event()
        go = threading.Event()  # set inside the try: no Ctrl-C while the thread starts

        def pester():
            rng = random.Random(11)
            go.wait()
            while not stop.is_set():
                time.sleep(rng.uniform(0.0002, 0.004))
                os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=pester, daemon=True).start()
        interrupts = 0
        deadline = time.monotonic() + 15
        while interrupts < 300 and time.monotonic() < deadline:
            try:
                go.set()
                # One durable evaluation per profile (cohorts now run column-wise and call
                # durable-rules only to verify a sample).
                for profile in profiles:
                    durable.evaluate(profile)
            except KeyboardInterrupt:
                interrupts += 1
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()
        time.sleep(0.05)
        matcher = durable._matcher
        sessions = next(matcher._sessions)
        left = []
        for session in range(sessions):
            try:
                matcher._engine.get_state(matcher._handle, str(session))
                left.append(session)
            except Exception:
                pass
        got = [durable.evaluate(p).fired_rules for p in profiles]
        print(json.dumps({{"interrupts": interrupts, "sessions": sessions,
                          "left": left, "correct": got == expected}}))
        """
    )
    assert report["interrupts"] >= 200, report
    assert report["sessions"] >= 200, report  # the storm hit durable-rules evaluations
    assert report["left"] == []  # no evaluation was cut off with its session open
    assert report["correct"]


class InterruptingEngine:
    """The C engine, with a Ctrl-C arriving in the middle of draining the actions."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def complete_and_start_action(self, handle: int, state: int) -> Any:
        self.calls.append("complete")
        if self.calls.count("complete") == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return self.real.complete_and_start_action(handle, state)

    def delete_state(self, handle: int, session: str) -> None:
        self.calls.append("delete")
        self.real.delete_state(handle, session)


def test_case_1_ctrl_c_is_delivered_after_the_session_is_deleted() -> None:
    rulebase = Rulebase.load(bundled_rules_dir(), engine="durable")
    expected = Rulebase.bundled(engine="python").evaluate(PROFILES[0]).fired_rules
    matcher = rulebase._matcher
    assert isinstance(matcher, DurableMatcher)
    engine = InterruptingEngine(matcher._engine)
    matcher._engine = engine  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        rulebase.evaluate(PROFILES[0])
    # The drain went on to its end and the session was deleted before the interrupt was raised.
    assert engine.calls.count("complete") > 1
    assert engine.calls[-1] == "delete"
    assert engine.calls.count("delete") == 1
    assert rulebase.evaluate(PROFILES[0]).fired_rules == expected
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_case_1_exception_from_start_action_for_state_leaves_a_usable_engine() -> None:
    report = run_child(
        f"""
        import json
        from mbc_rules import EngineError, Rulebase
        from mbc_rules.bundled import bundled_rules_dir

        profiles = {PROFILES!r}
        durable = Rulebase.load(bundled_rules_dir(), engine="durable")
        python = Rulebase.bundled(engine="python")
        matcher = durable._matcher
        real = matcher._engine

        class Failing:
            def __getattr__(self, name):
                return getattr(real, name)

            def start_action_for_state(self, handle, state):
                real.start_action_for_state(handle, state)  # the action is left in flight
                raise RuntimeError("injected failure")

        failures = correct = 0
        for round in range(100):
            matcher._engine = Failing()
            try:
                durable.evaluate(profiles[round % len(profiles)])
            except EngineError:
                failures += 1
            matcher._engine = real
            profile = profiles[(round * 7) % len(profiles)]
            correct += durable.evaluate(profile).fired_rules == python.evaluate(profile).fired_rules
        print(json.dumps({{"failures": failures, "correct": correct}}))
        """
    )
    assert report == {"failures": 100, "correct": 100}


def test_case_1_a_native_error_is_an_engine_error_and_the_next_evaluation_is_right() -> None:
    rulebase = Rulebase.load(bundled_rules_dir(), engine="durable")
    matcher = rulebase._matcher
    assert isinstance(matcher, DurableMatcher)
    handle = matcher._handle
    real = matcher._engine

    class Broken:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def assert_fact(self, handle: int, message: str) -> Any:
            raise real.error("Could not assert fact, error code: 303")

    matcher._engine = Broken()  # type: ignore[assignment]
    with pytest.raises(EngineError, match="303"):
        rulebase.evaluate(PROFILES[1])
    matcher._engine = real
    assert matcher._handle != handle  # rebuilt
    expected = Rulebase.bundled(engine="python").evaluate(PROFILES[1])
    assert rulebase.evaluate(PROFILES[1]).fired_rules == expected.fired_rules


RULE = """\
  - id: {id}
    title: A rule of one's own.
    when:
{when}
    then:
      offer:
        category: targeted_therapy
        tier: option
        agents: [trastuzumab]
    citations:
      - acs-her2-positive-pertuzumab-1
    examples:
      - profile: {{her2_status: positive}}
        fires: true
"""


def her2_and_lines(k: int, indent: str = "      ") -> str:
    return (
        f"{indent}all:\n{indent}  - fact: her2_status\n{indent}    equals: positive\n"
        f"{indent}  - fact: lines_failed\n{indent}    at_most: {k}"
    )


def write_rule_set(directory: Path, rules: list[str]) -> Path:
    (directory / "local.yaml").write_text("rules:\n" + "".join(rules), encoding="utf-8")
    return directory


def refused(directory: Path) -> str:
    with pytest.raises(RulebaseError) as caught:
        Rulebase.load(directory, engine="durable")
    (problem,) = caught.value.problems
    text = str(problem)
    assert text.startswith(f"{directory / 'local.yaml'}:")
    assert problem.line is not None
    assert problem.rule_id is not None
    assert f"[{problem.rule_id}]" in text
    assert 'engine="python" evaluates it' in text
    # ... and it does: the plain-Python engine loads and evaluates the same rules.
    python = Rulebase.load(directory, engine="python")
    assert python.evaluate({"her2_status": "positive"}).fired_rules
    return text


@pytest.fixture(autouse=True)
def _no_probe_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MBC_RULES_CACHE", "off")


def test_case_2_sixty_five_comparisons_overflow_the_stack_at_load_not_evaluation(
    tmp_path: Path,
) -> None:
    rules = [RULE.format(id=f"lines-{k}", when=her2_and_lines(k)) for k in range(1, 66)]
    text = refused(write_rule_set(tmp_path, rules))
    assert "64-entry evaluation stack" in text
    assert "error 303" in text


def test_case_2_one_any_of_sixteen_pairs_is_located(tmp_path: Path) -> None:
    pairs = "".join(
        f"        - {her2_and_lines(k, '          ').lstrip()}\n" for k in range(16)
    ).rstrip("\n")
    rules = [RULE.format(id="sixteen-pairs", when="      any:\n" + pairs)]
    text = refused(write_rule_set(tmp_path, rules))
    assert "[sixteen-pairs]" in text
    assert "expression limit (durable-rules error 113)" in text


def test_case_2_257_rules_on_one_condition_are_refused(tmp_path: Path) -> None:
    when = "      fact: her2_status\n      equals: positive"
    rules = [RULE.format(id=f"same-{k}", when=when) for k in range(257)]
    text = refused(write_rule_set(tmp_path, rules))
    assert "durable-rules" in text


def test_case_2_about_250_any_rules_are_refused(tmp_path: Path) -> None:
    when = (
        "      any:\n        - fact: her2_status\n          equals: positive\n"
        "        - fact: lines_failed\n          at_least: {k}"
    )
    rules = [RULE.format(id=f"any-{k}", when=when.format(k=k)) for k in range(250)]
    text = refused(write_rule_set(tmp_path, rules))
    assert "durable-rules error 107" in text


def test_case_2_the_bundled_rules_pass_the_probe_and_it_is_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable_probe_runs: list[object]
) -> None:
    from mbc_rules.engine import durable as engine_module

    monkeypatch.setenv("MBC_RULES_CACHE", str(tmp_path))
    children = durable_probe_runs
    Rulebase.load(bundled_rules_dir(), engine="durable")
    assert len(children) == 1
    assert len(list(tmp_path.glob("durable-probe-*"))) == 1
    monkeypatch.setattr(engine_module, "_passed", set())  # a new process: only the file remains
    Rulebase.load(bundled_rules_dir(), engine="durable")
    assert len(children) == 1


def test_case_2_a_crashing_probe_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mbc_rules.engine import durable as engine_module

    # The child aborts the way durable-rules does (free(): invalid pointer -> SIGABRT).
    crashing = engine_module._PROBE_SCRIPT.replace(
        'say("fact", index)', 'say("fact", index); import os; os.abort()'
    )
    monkeypatch.setattr(engine_module, "_PROBE_SCRIPT", crashing)
    rules = [RULE.format(id="crashes", when=her2_and_lines(3))]
    with pytest.raises(RulebaseError) as caught:
        Rulebase.load(write_rule_set(tmp_path, rules), engine="durable")
    (problem,) = caught.value.problems
    assert problem.rule_id == "crashes"
    assert "durable-rules crashed (SIGABRT) evaluating" in problem.message


FORK_SCRIPT = """
import json, os, signal, threading, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
from mbc_rules import Rulebase
from mbc_rules.engine import durable as engine

profiles = PROFILES
durable = Rulebase.bundled(engine="durable")
expected = [Rulebase.bundled(engine="python").evaluate(p).fired_rules for p in profiles]
if DISARM:  # what the test guards against: the fork hooks see no engine
    import weakref
    engine._LIVE = weakref.WeakSet()
stop = threading.Event()
busy = [0]

def evaluate_forever():
    while not stop.is_set():
        durable.fired_rules(profiles[busy[0] % len(profiles)])  # mostly inside the engine
        busy[0] += 1

thread = threading.Thread(target=evaluate_forever)
thread.start()
while busy[0] < 20:
    time.sleep(0.01)
outcomes = []
for child in range(CHILDREN):
    pid = os.fork()
    if pid == 0:
        signal.alarm(ALARM)  # a deadlocked child dies of SIGALRM instead of hanging
        ok = all(
            durable.evaluate(p).fired_rules == e for p, e in zip(profiles[:4], expected[:4])
        )
        os._exit(0 if ok else 1)
    outcomes.append(os.waitpid(pid, 0)[1])
stop.set()
thread.join()
print(json.dumps({"outcomes": outcomes, "busy": busy[0]}))
"""


def fork_script(children: int, disarm: bool) -> str:
    return (
        FORK_SCRIPT.replace("PROFILES", repr(PROFILES))
        .replace("DISARM", repr(disarm))
        .replace("CHILDREN", str(children))
        .replace("ALARM", "2" if disarm else "20")
    )


def test_case_3_fork_while_another_thread_evaluates_never_deadlocks() -> None:
    report = run_child(fork_script(100, disarm=False), timeout=300)
    assert report["outcomes"] == [0] * 100
    assert report["busy"] >= 20


def test_case_3_the_fork_test_catches_a_lock_held_at_fork() -> None:
    # Without the fork hooks most children inherit the busy thread's lock, held, and hang.
    report = run_child(fork_script(8, disarm=True), timeout=300)
    assert sum(1 for status in report["outcomes"] if status != 0) >= 2, report


def test_case_3_the_child_rebuilds_an_engine_held_at_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    from mbc_rules.engine import durable as engine_module

    rulebase = Rulebase.load(bundled_rules_dir(), engine="durable")
    matcher = rulebase._matcher
    assert isinstance(matcher, DurableMatcher)
    lock = matcher._lock
    # As if the lock could not be taken before the fork: the child must not trust the engine.
    engine_module._HELD_AT_FORK.clear()
    engine_module._after_fork_in_child()
    assert matcher._lock is not lock
    assert matcher._stale
    handle = matcher._handle
    expected = Rulebase.bundled(engine="python").evaluate(PROFILES[2]).fired_rules
    assert rulebase.evaluate(PROFILES[2]).fired_rules == expected
    assert matcher._handle != handle
    assert not matcher._stale

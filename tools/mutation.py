"""Mutation check: deliberate breakages that the fast test suite must catch (``make mutation``).

Each mutation replaces one exact piece of source text in a copy of the repository, then the fast
suite runs against that copy (stopping at the first failure). A mutation that the suite does not
catch "survives": the suite has a blind spot there, and this script fails. A mutation whose text
is no longer in the source fails too, so that the list is kept in step with the code.

Grow the list whenever a bug slips through the suite (see issue 9): every entry names the bug it
stands for.

Usage: python tools/mutation.py [--list] [NAME ...]
"""

from __future__ import annotations

import argparse
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("src", "rules", "tests", "docs", "examples", "benchmarks", "pyproject.toml")
# The fast suite, quick and discriminating files first (the property tests last): a caught
# mutation stops at its first failure.
FAST_SUITE = (
    "tests/test_result.py",
    "tests/test_explain.py",
    "tests/test_provenance.py",
    "tests/test_facts.py",
    "tests/test_ranking.py",
    "tests/test_ranking_reasons.py",
    "tests/test_ranker.py",
    "tests/test_rule_errors.py",
    "tests/test_always.py",
    "tests/test_informative_tests.py",
    "tests/test_conditions.py",
    "tests/test_engine.py",
    "tests/test_vignettes.py",
    "tests/test_properties.py",
    "tests/test_history_by_class.py",
    "tests/test_architecture.py",
    "tests/test_cohort_oracles.py",
    "tests/test_settle.py",
    "tests/test_columnar.py::test_men_with_histories_are_ranked_as_one_evaluation_ranks_them",
    "tests/test_columnar.py::test_each_join_of_entry_values_is_the_per_history_reading",
)


@dataclass(frozen=True)
class Mutation:
    """One deliberate breakage: in ``file``, ``old`` (which must occur once) becomes ``new``."""

    name: str
    file: str
    old: str
    new: str
    why: str


MUTATIONS = (
    Mutation(
        "result-equality-always-true",
        "src/mbc_rules/result.py",
        "    disclaimer: str = DISCLAIMER\n",
        "    disclaimer: str = DISCLAIMER\n\n"
        "    def __eq__(self, other: object) -> bool:\n        return True\n",
        "issue 9: tests that asserted only == passed whatever the result said",
    ),
    Mutation(
        "hash-ignores-file-contents",
        "src/mbc_rules/rulebase.py",
        "        for part in (name, files[name]):",
        "        for part in (name,):",
        "issue 9: two different rule sets shared a hash",
    ),
    Mutation(
        "hash-ignores-merged-bundled-files",
        "src/mbc_rules/rulebase.py",
        '        texts.update({f"<bundled>/{f.path.name}": f.text for f in inherited})\n',
        "",
        "issue 9: the hash was taken before the bundled sources and vocabulary were merged",
    ),
    Mutation(
        "custom-rule-set-inherits-bundled-version",
        "src/mbc_rules/validate.py",
        "if id(f) in own and f.data.get",
        "if f.data.get",
        "issue 9: a custom rule set inherited the bundled version string",
    ),
    Mutation(
        "negated-at-least-off-by-one",
        "src/mbc_rules/conditions.py",
        'return "at_most", operand - 1',
        'return "at_most", operand',
        "issue 9: explanations misread not(at_least k)",
    ),
    Mutation(
        "explained-rank-mixes-agents-and-categories",
        "src/mbc_rules/explain.py",
        'ranks = category_ranks if kind == "category" else agent_ranks',
        "ranks = {**category_ranks, **agent_ranks}",
        "issue 9: a regimen member named like a category gave that category the wrong rank",
    ),
    Mutation(
        "explained-rank-off-by-one",
        "src/mbc_rules/explain.py",
        "categories.setdefault(option.category, option.rank)",
        "categories.setdefault(option.category, option.rank + 1)",
        "issue 9: explanations reported a wrong rank",
    ),
    Mutation(
        "her2-drugs-counted-per-entry",
        "src/mbc_rules/facts.py",
        'facts["her2_targeted_drugs_given"] = len(her2_drugs)',
        'facts["her2_targeted_drugs_given"] = sum(\n'
        "        1 for t in profile.prior_therapies or () if vocabulary[t.agent].is_her2_targeted\n"
        "    )",
        "issue 9: therapy entries counted instead of distinct HER2-targeted drugs",
    ),
    Mutation(
        "explained-any-reads-as-and",
        "src/mbc_rules/wording.py",
        'return " or ".join(_bracketed(p, rule_needs_text(p), "any") for p in node.parts)',
        'return " and ".join(_bracketed(p, rule_needs_text(p), "any") for p in node.parts)',
        "issue 9: explain() printed an any: as 'needs A and needs B'",
    ),
    Mutation(
        "any-evaluated-as-all",
        "src/mbc_rules/conditions.py",
        "return any(holds(part, facts) for part in condition.any)",
        "return all(holds(part, facts) for part in condition.any)",
        "the reference semantics of any",
    ),
    Mutation(
        "deciding-any-picks-nothing",
        "src/mbc_rules/conditions.py",
        'if node.kind == "any" and node.held:',
        'if node.kind == "any" and not node.held:',
        "the tests that decide a verdict, read by explanations",
    ),
    Mutation(
        "result-lists-shared-through-the-cache",
        "src/mbc_rules/rank/arrange.py",
        "tuple(dict.fromkeys([*single, *members])),",
        "list(dict.fromkeys([*single, *members])),",
        "issue 9: appending to one patient's agents changed another patient's answer",
    ),
    Mutation(
        "explanation-counts-rules-about-women-for-a-man",
        "src/mbc_rules/explain.py",
        "is_fired, is_counted = rule.id in fired, rule.id in counted",
        "is_fired, is_counted = rule.id in fired, rule.id in fired",
        "issue 9: explain() said a rule offers it for a man after the population filter",
    ),
    Mutation(
        "population-filter-off",
        "src/mbc_rules/rank/citations.py",
        "citations = [c for c in rule.citations if c.population not in excluded]",
        "citations = list(rule.citations)",
        "sentences about women support nothing for a man",
    ),
    Mutation(
        "informative-tests-ask-known-statuses",
        "src/mbc_rules/whatif.py",
        '        if getattr(profile, status) != "unknown":\n            continue\n',
        "",
        "only an unknown status is an informative test",
    ),
    Mutation(
        "rule-examples-not-checked",
        "src/mbc_rules/validate.py",
        "if fires != example.fires:",
        "if False:",
        "a rule whose own example fails must not load",
    ),
    Mutation(
        "weakest-tier-wins",
        "src/mbc_rules/rank/arrange.py",
        "entry.tier = min(entry.tier, tier)",
        "entry.tier = max(entry.tier, tier)",
        "an option takes the best tier any rule gives it",
    ),
    Mutation(
        "not-recommended-category-still-offered",
        "src/mbc_rules/rank/contributions.py",
        "if offer is None or offer.category in removed_categories:",
        "if offer is None:",
        "what the sources rule out is never offered",
    ),
    Mutation(
        "ranker-option-memory-forgets-the-history",
        "src/mbc_rules/rank/memo.py",
        "option_key = (placed.rank, code, waiting, mine)",
        "option_key = (placed.rank, code, waiting, ())",
        "issue 12: a remembered option must not carry another patient's history",
    ),
    Mutation(
        "columnar-ties-not-shared",
        "src/mbc_rules/cohort/columnar.py",
        "new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]",
        "new[:, 1:] = True",
        "issue 12: options equal on every ordering key share a rank in cohorts too",
    ),
    Mutation(
        "durable-negated-any-stays-or",
        "src/mbc_rules/compile.py",
        'return _junction("$and" if negate else "$or", parts)',
        'return _junction("$or", parts)',
        "the durable-rules compiler must agree with conditions (De Morgan)",
    ),
    Mutation(
        "other-drugs-of-a-type-offered-after-one-failed",
        "src/mbc_rules/rank/contributions.py",
        "self.related[a] = self.same[a] | _within(agent.drug_class, vocabulary)",
        "self.related[a] = self.same[a]",
        "issue 19: abemaciclib and ribociclib were offered after palbociclib progressed",
    ),
    Mutation(
        "one-drug-under-two-names-read-as-two",
        "src/mbc_rules/facts.py",
        "for same in vocabulary.grown_on(agent)",
        "for same in (agent,)",
        "issue 19: albumin-bound paclitaxel was offered after paclitaxel progressed; a class "
        "named as history held back none of its drugs",
    ),
    Mutation(
        "named-switch-ignored",
        "src/mbc_rules/rank/contributions.py",
        "switch = tables.switch(offer.switch_from) if offer.switch_from else frozenset()",
        "switch = frozenset()",
        "issue 19: the switches a sentence names (pertuzumab after trastuzumab) must stay",
    ),
    Mutation(
        "completed-read-as-progressed",
        "src/mbc_rules/facts.py",
        'return outcome == "progressed"',
        'return outcome in ("progressed", "completed")',
        "issue 19: a completed adjuvant course was read as growth on it",
    ),
    Mutation(
        "agreement-names-a-supporting-source",
        "src/mbc_rules/rank/present.py",
        "if source not in supporters.get(a, frozenset())",
        "if True",
        "issue 19: a source stood both as supporting a drug and as naming it only elsewhere",
    ),
    Mutation(
        "deciding-field-is-the-last-that-differs",
        "src/mbc_rules/rank/arrange.py",
        "for name, mine, theirs in zip(self._fields, self, other, strict=True):",
        "for name, mine, theirs in reversed(list(zip(self._fields, self, other, strict=True))):",
        "issue 20: the reason one option comes before another is its key's first differing field",
    ),
    Mutation(
        "explanation-says-sources-where-systemic-before-local",
        "src/mbc_rules/wording.py",
        "if field in _ORDERED_BY:",
        'if field in _ORDERED_BY and field != "local":',
        "issue 20: explain said 'more sources support targeted therapy' where the ranking put "
        "systemic treatment before local",
    ),
    Mutation(
        "explained-keys-without-the-orderings",
        "src/mbc_rules/rank/reference.py",
        "        standing=standing,\n"
        "        hormone_failed=hormone_failed(history.failed, vocabulary),\n"
        "    )\n"
        "    return {placed.category: placed.key",
        "        hormone_failed=hormone_failed(history.failed, vocabulary),\n"
        "    )\n"
        "    return {placed.category: placed.key",
        "issue 20: explanations must read the ranking's own keys, the sources' orderings included",
    ),
    Mutation(
        "import-up-the-layers",
        "src/mbc_rules/fhir/records.py",
        "    return _entries(data, what), isinstance(data, Mapping)\n",
        "    from mbc_rules.rulebase import Rulebase  # noqa: F401\n\n"
        "    return _entries(data, what), isinstance(data, Mapping)\n",
        "issue 20: an import inside a function that points up the layers closes no circle, so "
        "the circle check alone never saw it",
    ),
    Mutation(
        "cohort-reaches-into-the-rulebase",
        "src/mbc_rules/cohort/columnar.py",
        "self.ranker = rulebase.ranker",
        "self.ranker = rulebase._ranker",
        "issue 20: the cohort engine read the rulebase's private state and shared its memory",
    ),
    Mutation(
        "oracles-kept-for-ever",
        "src/mbc_rules/cohort/verify.py",
        "_ORACLES: weakref.WeakKeyDictionary[Rulebase, Rulebase] = weakref.WeakKeyDictionary()",
        "_ORACLES: dict[Rulebase, Rulebase] = {}",
        "issue 20: the oracles of a cohort's sample check were never let go (and, keyed by id, "
        "could be handed to another rulebase)",
    ),
    Mutation(
        "always-holds-for-no-one",
        "src/mbc_rules/conditions.py",
        "    if isinstance(condition, Always):\n        return True\n",
        "    if isinstance(condition, Always):\n        return False\n",
        "always: true is the condition of guidance for everyone; the reference must hold it",
    ),
    Mutation(
        "always-compiled-as-false",
        "src/mbc_rules/engine/compiled.py",
        '        if isinstance(condition, Always):\n            return "True"\n',
        '        if isinstance(condition, Always):\n            return "False"\n',
        "the compiled matcher must agree with the reference on always",
    ),
    Mutation(
        "always-takes-any-value",
        "src/mbc_rules/schema.py",
        "    if value is not True:\n",
        "    if value is None:\n",
        'always: false (or 1, or "yes") must be refused at load, not read as true',
    ),
    Mutation(
        "always-accepted-under-not",
        "src/mbc_rules/schema.py",
        "        where = nested_always(when)\n",
        "        where = None\n",
        "not: {always: true} is a rule that never fires; a rule file may not write it",
    ),
    Mutation(
        "settled-regimen-keeps-an-absent-partner",
        "src/mbc_rules/rank/arrange.py",
        "        after = [k & offered for k in kept]\n",
        "        after = list(kept)\n",
        "issue 20: a cohort's settling must drop a regimen whose partner category is not "
        "offered, as arrange's rounds do",
    ),
    Mutation(
        "presence-ignores-growth-on-every-hormone-drug",
        "src/mbc_rules/rank/arrange.py",
        "offered = bool(left) and _stands(",
        "offered = bool(left) or _stands(",
        "issue 20: what settle reads of a category must be what its entry says (hormone "
        "therapy with no drug left after growth on a hormone drug is not offered)",
    ),
    Mutation(
        "cohort-reads-a-mans-rules-as-a-womans",
        "src/mbc_rules/cohort/columnar.py",
        "return self._male_rules[rule] if male else self.rules[rule]",
        "return self.rules[rule]",
        "issue 20: sentences that speak only of women support nothing for a man, in cohorts too",
    ),
    Mutation(
        "history-distinct-count-counts-entries",
        "src/mbc_rules/cohort/columnar.py",
        "        value = _bit_count(_or_per_history(bits, lengths, starts, some))\n",
        "        value = np.bincount(np.repeat(np.arange(count), lengths)[present], "
        "minlength=count)\n",
        "issue 20: a history's distinct drugs, classes or lines are counted once each",
    ),
)


def not_applicable(mutations: Sequence[Mutation], root: Path) -> list[str]:
    """Each mutation whose text is not in its file exactly once, in words: it could never be
    caught, and would hide the blind spot it stands for.
    """
    found = []
    for mutation in mutations:
        path = root / mutation.file
        if not path.is_file():
            found.append(f"{mutation.name}: {mutation.file} does not exist")
            continue
        count = path.read_text(encoding="utf-8").count(mutation.old)
        if count != 1:
            found.append(f"{mutation.name}: its text is in {mutation.file} {count} times, not once")
    return found


def copy_repository(target: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        elif source.is_file():
            shutil.copy2(source, target / name)


def run_suite(copy: Path) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    # The copy is not beside ../shared: name the source texts, or their tests would skip.
    sources = Path(os.environ.get("MBC_RULES_SOURCES", ROOT.parent / "shared" / "sources"))
    if sources.is_dir():
        env["MBC_RULES_SOURCES"] = str(sources)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *FAST_SUITE],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    seconds = time.perf_counter() - started
    return done.returncode, (lines[0] if lines else done.stdout[-200:]), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the run of the unmutated suite"
    )
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    if args.list:
        for mutation in MUTATIONS:
            print(f"{mutation.name}: {mutation.why}")
        return 0
    # Checked before anything runs (and by tests/test_mutations.py on every run of the suite):
    # a stale entry fails the whole check at once, loudly, instead of after the baseline.
    stale = not_applicable(chosen, ROOT)
    if stale:
        for line in stale:
            print(f"NOT APPLICABLE {line}")
        print(f"{len(stale)} mutations no longer apply: bring them in step with the code")
        return 2
    failures = []
    with tempfile.TemporaryDirectory(prefix="mbc-mutation-") as temporary:
        copy = Path(temporary)
        copy_repository(copy)
        if not args.no_baseline:
            code, first, seconds = run_suite(copy)
            print(f"baseline: {'passes' if code == 0 else 'FAILS'} ({seconds:.0f} s)", flush=True)
            if code != 0:
                print(f"  {first}\nthe fast suite must pass before mutations mean anything")
                return 1
        for mutation in chosen:
            path = copy / mutation.file
            original = path.read_text(encoding="utf-8")
            if original.count(mutation.old) != 1:
                failures.append(mutation.name)
                print(f"NOT APPLICABLE {mutation.name}: its text is not in {mutation.file} once")
                continue
            path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
            try:
                py_compile.compile(str(path), doraise=True)
                code, first, seconds = run_suite(copy)
            finally:
                path.write_text(original, encoding="utf-8")
            caught = code != 0
            if not caught:
                failures.append(mutation.name)
            verdict = "caught  " if caught else "SURVIVED"
            print(f"{verdict} {mutation.name} ({seconds:.0f} s): {first}", flush=True)
    print(f"{len(chosen) - len(failures)} of {len(chosen)} mutations caught")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

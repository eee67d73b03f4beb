"""Bad rule files fail at load, with every problem located by file, line and rule id."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbc_rules import Problem, Rulebase, RulebaseError
from mbc_rules.engine import EngineName

from .conftest import SOURCES_DIR, write_rules

GOOD_RULE = """\
rules:
  - id: local-rule
    title: A rule of one's own.
    when:
      fact: her2_status
      equals: positive
    then:
      offer:
        category: targeted_therapy
        tier: option
        agents: [trastuzumab]
    citations:
      - acs-her2-positive-pertuzumab-1
    examples:
      - profile: {her2_status: positive}
        fires: true
"""


def load_errors(tmp_path: Path, text: str) -> RulebaseError:
    write_rules(tmp_path, "local.yaml", text)
    with pytest.raises(RulebaseError) as caught:
        Rulebase.load(tmp_path)
    return caught.value


def test_a_good_local_rule_set_loads_beside_the_bundled_one(tmp_path: Path) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    local = Rulebase.load(tmp_path)
    assert [r.id for r in local.rules] == ["local-rule"]
    assert local.evaluate({"her2_status": "positive"}).fired_rules == ("local-rule",)
    bundled = Rulebase.bundled()
    assert "local-rule" not in bundled.evaluate({"her2_status": "positive"}).fired_rules


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    error = load_errors(tmp_path, "rules:\n  - id: x\n    title: [unclosed\n")
    (problem,) = error.problems
    assert problem.file == tmp_path / "local.yaml"
    assert problem.line == 4
    assert "YAML syntax error" in problem.message


def test_python_tags_are_not_constructed(tmp_path: Path) -> None:
    text = GOOD_RULE.replace(
        "title: A rule of one's own.", "title: !!python/object/apply:os.system ['true']"
    )
    error = load_errors(tmp_path, text)
    assert any(p.line == 3 and "python/object" in p.message for p in error.problems)
    assert not any("os.system" in str(p) and p.line != 3 for p in error.problems)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        GOOD_RULE.replace("agents: [trastuzumab]", "agents: [trastuzumab-x]")
        .replace("fact: her2_status", "fact: her2_stauts")
        .replace("- acs-her2-positive-pertuzumab-1", "- acs-her2-positive-pertuzumab")
        .replace("    then:\n", "    colour: red\n    then:\n")
    )
    error = load_errors(tmp_path, text)
    messages = {p.message: p for p in error.problems}
    assert all(p.rule_id == "local-rule" for p in error.problems)
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if fragment in line)

    def problem(fragment: str) -> Problem:
        return next(p for m, p in messages.items() if fragment in m)

    assert "did you mean 'trastuzumab'" in problem("unknown agent 'trastuzumab-x'").message
    assert problem("unknown agent 'trastuzumab-x'").line == line_of("trastuzumab-x")
    assert problem("unknown fact 'her2_stauts'").line == line_of("her2_stauts")
    unknown = problem("unknown statement 'acs-her2-positive-pertuzumab'")
    assert "did you mean 'acs-her2-positive-pertuzumab-1'" in unknown.message
    assert unknown.line == line_of("- acs-her2-positive-pertuzumab")
    assert problem("unknown key 'colour'").line == line_of("colour")
    assert f"local.yaml:{line_of('trastuzumab-x')} [local-rule]: " in str(error)


def test_unknown_fact_value_duplicate_id_and_missing_citation(tmp_path: Path) -> None:
    second = GOOD_RULE.split("rules:\n", 1)[1]
    no_citation = second.replace("local-rule", "uncited").split("    citations:")[0] + (
        "    citations: []\n    examples:\n      - profile: {}\n        fires: true\n"
    )
    text = GOOD_RULE.replace("equals: positive", "equals: yes") + second + no_citation
    error = load_errors(tmp_path, text)
    text_of = [str(p) for p in error.problems]
    assert any("her2_status takes one of positive, negative, unknown" in t for t in text_of)
    assert any("quote it" in t for t in text_of)  # YAML reads a bare yes as true
    assert any("duplicate rule id 'local-rule'" in t and ":17 " in t for t in text_of)
    assert any("[uncited]" in t and "citations" in t for t in text_of)


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_a_rule_whose_own_example_fails(tmp_path: Path, engine: EngineName) -> None:
    # The reference check (conditions) finds it, before durable-rules runs the examples its
    # own way: its message would say "on durable-rules", and the python engine has no other.
    write_rules(tmp_path, "local.yaml", GOOD_RULE.replace("fires: true", "fires: false"))
    with pytest.raises(RulebaseError) as caught:
        Rulebase.load(tmp_path, engine=engine)
    (problem,) = caught.value.problems
    assert problem.rule_id == "local-rule"
    assert problem.line == 15
    assert problem.message == "example 1 should not fire, but the rule fires"


def test_an_invalid_example_profile_is_a_load_error(tmp_path: Path) -> None:
    error = load_errors(tmp_path, GOOD_RULE.replace("{her2_status: positive}", "{her2: positive}"))
    (problem,) = error.problems
    assert problem.line == 15
    assert problem.rule_id == "local-rule"
    assert problem.message == "examples[0].profile.her2: unknown key 'her2'"


def test_an_empty_condition_is_rejected(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("      fact: her2_status\n      equals: positive\n", "      all: []\n")
    error = load_errors(tmp_path, text)
    assert any("when.all" in p.message for p in error.problems)


def test_an_option_may_only_name_what_the_sources_name(tmp_path: Path) -> None:
    error = load_errors(tmp_path, GOOD_RULE.replace("[trastuzumab]", "[docetaxel]"))
    assert any("not named in any source" in p.message for p in error.problems)


LOCAL_STATEMENTS = """\
statements:
  - id: acs-local-pertuzumab
    source: acs
    section: HER2-positive cancers
    excerpt: Pertuzumab (Perjeta), another targeted drug, might be added as well.
"""


@pytest.mark.skipif(not SOURCES_DIR.is_dir(), reason="source texts not beside the repo")
def test_an_excerpt_not_found_in_its_source(tmp_path: Path) -> None:
    rule = GOOD_RULE.replace("acs-her2-positive-pertuzumab-1", "acs-local-pertuzumab")
    write_rules(tmp_path, "local.yaml", rule)
    misquoted = LOCAL_STATEMENTS.replace("might be added as well", "must be added as well")
    write_rules(tmp_path, "statements.yaml", misquoted)
    with pytest.raises(RulebaseError) as caught:
        Rulebase.load(tmp_path, sources_dir=SOURCES_DIR)
    (problem,) = caught.value.problems
    assert problem.rule_id == "acs-local-pertuzumab"
    assert problem.file == tmp_path / "statements.yaml"
    assert problem.line == 5
    assert "not word for word in 003_a6c6518c38ce1474.txt" in problem.message
    write_rules(tmp_path, "statements.yaml", LOCAL_STATEMENTS)
    assert Rulebase.load(tmp_path, sources_dir=SOURCES_DIR).rules


def test_a_rule_may_not_cite_a_statement_marked_as_carrying_none(tmp_path: Path) -> None:
    rule = GOOD_RULE.replace("acs-her2-positive-pertuzumab-1", "acs-local-pertuzumab")
    write_rules(tmp_path, "statements.yaml", LOCAL_STATEMENTS + "    no_rule: background\n")
    error = load_errors(tmp_path, rule)
    (problem,) = error.problems
    assert problem.rule_id == "local-rule"
    assert problem.line == rule.splitlines().index("      - acs-local-pertuzumab") + 1
    assert "marked no_rule" in problem.message
    assert "'background'" in problem.message


def test_an_excerpt_written_in_a_rule_is_rejected(tmp_path: Path) -> None:
    rule = GOOD_RULE.replace(
        "      - acs-her2-positive-pertuzumab-1\n",
        "      - source: acs\n        section: HER2-positive cancers\n"
        "        excerpt: Pertuzumab (Perjeta), another targeted drug, might be added as well.\n",
    )
    (problem,) = load_errors(tmp_path, rule).problems
    assert problem.rule_id == "local-rule"
    assert "excerpts are written only there" in problem.message


def test_a_statement_does_not_list_its_rules(tmp_path: Path) -> None:
    rule = GOOD_RULE.replace("acs-her2-positive-pertuzumab-1", "acs-local-pertuzumab")
    write_rules(tmp_path, "statements.yaml", LOCAL_STATEMENTS + "    rules: [local-rule]\n")
    problems = load_errors(tmp_path, rule).problems
    problem = next(p for p in problems if p.rule_id == "acs-local-pertuzumab")
    assert problem.line == 6
    assert "derived from the rules' citations" in problem.message


def test_duplicate_statement_ids(tmp_path: Path) -> None:
    rule = GOOD_RULE.replace("acs-her2-positive-pertuzumab-1", "acs-local-pertuzumab")
    twice = LOCAL_STATEMENTS + LOCAL_STATEMENTS.split("statements:\n", 1)[1]
    write_rules(tmp_path, "statements.yaml", twice)
    (problem,) = load_errors(tmp_path, rule).problems
    assert "duplicate statement id 'acs-local-pertuzumab'" in problem.message
    assert problem.line == 6

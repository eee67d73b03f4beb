"""Issue 11, case 6: a stored result carries an integrity digest and can be verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Evaluation, Rulebase
from mbc_rules.result import result_digest

from .conftest import write_rules
from .strategies import AGENT_IDS, profiles
from .test_rule_errors import GOOD_RULE

PROFILE = {
    "er_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
    "prior_therapies": [{"agent": "Femara", "outcome": "progressed"}],
}


def stored(rulebase: Rulebase) -> dict[str, object]:
    data: dict[str, object] = json.loads(rulebase.evaluate(PROFILE).model_dump_json())
    return data


def test_case_6_the_digest_covers_the_canonical_content(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(PROFILE)
    assert len(result.digest) == 64
    assert result.digest == result_digest(result)
    back = Evaluation.model_validate_json(result.model_dump_json())
    assert result_digest(back) == result.digest
    other = rulebase.evaluate({**PROFILE, "metastatic_sites": ["liver"]})
    assert other.digest != result.digest
    renamed = result.model_copy(update={"rulebase_hash": "0" * 64})
    assert result_digest(renamed) != result.digest


def test_case_6_a_genuine_stored_result_verifies(rulebase: Rulebase) -> None:
    back = Evaluation.model_validate(stored(rulebase))
    verdict = rulebase.verify(back)
    assert verdict.verified, str(verdict)
    assert verdict.differences == ()


def test_case_6_a_tampered_citation_is_detected(rulebase: Rulebase) -> None:
    data = stored(rulebase)
    options = data["options"]
    assert isinstance(options, list)
    citation = options[0]["citations"][0]
    original = citation["excerpt"]
    citation["excerpt"] = "Any drug at all is fine."
    verdict = rulebase.verify(Evaluation.model_validate(data))
    assert not verdict.verified
    assert not verdict.digest_intact
    (difference,) = verdict.differences
    assert difference.startswith("options[0].citations[0].excerpt: stored 'Any drug at all")
    assert repr(original) in difference
    assert "not verified" in str(verdict)


def test_case_6_a_tampered_agent_is_detected_even_with_a_recomputed_digest(
    rulebase: Rulebase,
) -> None:
    data = stored(rulebase)
    options = data["options"]
    assert isinstance(options, list)
    first = options[0]
    first["agents"] = ["doxorubicin", *first["agents"][1:]]
    forged = Evaluation.model_validate(data)
    forged = forged.model_copy(update={"digest": result_digest(forged)})
    verdict = rulebase.verify(forged)
    assert verdict.digest_intact  # the forger recomputed it: anyone can
    assert not verdict.verified
    assert any(
        d.startswith("options[0].agents[0]: stored 'doxorubicin'") for d in verdict.differences
    )


def test_case_6_a_result_of_another_rulebase_is_named(rulebase: Rulebase, tmp_path: Path) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    local = Rulebase.load(tmp_path, engine="python")
    verdict = local.verify(rulebase.evaluate(PROFILE))
    assert verdict.digest_intact
    assert not verdict.same_rulebase
    assert not verdict.verified
    assert any(d.startswith("rulebase_hash: stored") for d in verdict.differences)


def test_case_6_a_report_with_informative_tests_verifies(rulebase: Rulebase) -> None:
    from mbc_rules.evaluation import EvaluationReport

    result = rulebase.evaluate({"er_status": "positive"})
    report = EvaluationReport.of(result, rulebase.informative_tests(result))
    assert report.informative_tests
    back = EvaluationReport.model_validate_json(report.model_dump_json())
    assert rulebase.verify(back).verified


def test_case_6_mbc_rules_verify_on_the_command_line(tmp_path: Path) -> None:
    import io

    from mbc_rules.cli import main

    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps(PROFILE), encoding="utf-8")
    out = io.StringIO()
    assert main(["evaluate", str(profile), "--json"], out, io.StringIO()) == 0
    stored = tmp_path / "result.json"
    stored.write_text(out.getvalue(), encoding="utf-8")
    out = io.StringIO()
    assert main(["verify", str(stored)], out, io.StringIO()) == 0
    assert out.getvalue().startswith("verified")
    data = json.loads(stored.read_text(encoding="utf-8"))
    data["options"][0]["citations"][0]["excerpt"] = "Any drug at all is fine."
    stored.write_text(json.dumps(data), encoding="utf-8")
    out = io.StringIO()
    assert main(["verify", str(stored)], out, io.StringIO()) == 1
    assert "the digest does not match the content" in out.getvalue()
    assert "options[0].citations[0].excerpt: stored 'Any drug at all is fine.'" in out.getvalue()


def test_case_6_every_field_and_text_moved_between_fields_change_the_digest(
    rulebase: Rulebase,
) -> None:
    result = rulebase.evaluate(PROFILE)
    assert result.options
    assert result.advice
    assert result.caveats
    assert result.fired_rules
    edits: dict[str, object] = {
        "options": result.options[1:],
        "not_recommended": (*result.not_recommended, *result.not_recommended[:1]),
        "advice": result.advice[:-1],
        "caveats": (*result.caveats, "x"),
        "fired_rules": result.fired_rules[:-1],
        "rulebase_hash": "0" * 64,
        "rulebase_version": result.rulebase_version + "x",
        "disclaimer": result.disclaimer + " ",
        "profile": result.profile.model_copy(update={"patient_id": "p"}),
    }
    for field, value in edits.items():
        assert result_digest(result.model_copy(update={field: value})) != result.digest, field
    # The parts are framed: text that moves from one part to the next is a change too.
    moved = result.model_copy(
        update={
            "rulebase_version": result.rulebase_version + result.disclaimer[:1],
            "disclaimer": result.disclaimer[1:],
        }
    )
    assert result_digest(moved) != result.digest


def test_case_6_item_hashes_remembered_by_identity_never_change_a_digest(
    rulebase: Rulebase,
) -> None:
    from mbc_rules import result as module

    first = rulebase.evaluate(PROFILE)
    remembered = result_digest(first)
    module._ITEM_HASH.clear()
    assert result_digest(first) == remembered == first.digest
    # A copy (a new object of the same content) hashes the same; an edited one does not.
    option = first.options[0]
    copied = first.model_copy(update={"options": (option.model_copy(), *first.options[1:])})
    assert result_digest(copied) == first.digest
    edited = option.model_copy(update={"rationale": (*option.rationale, "x")})
    assert result_digest(first.model_copy(update={"options": (edited, *first.options[1:])})) != (
        first.digest
    )
    # Items that are not exactly answer models (built past validation) are still hashed.
    loose = first.model_copy(update={"advice": tuple(a.model_dump() for a in first.advice)})
    assert len(result_digest(loose)) == 64


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent_ids=st.lists(st.sampled_from([*AGENT_IDS, "not_an_agent"]), max_size=8))
def test_remembered_names_are_result_names(agent_ids: list[str]) -> None:
    from mbc_rules.wording import result_names

    rulebase = Rulebase.bundled(engine="compiled")
    remembered = rulebase._names(agent_ids)
    fresh = result_names(rulebase.vocabulary, rulebase.sources, agent_ids)
    assert remembered == fresh
    assert remembered.model_dump() == fresh.model_dump()
    assert remembered.model_fields_set == fresh.model_fields_set
    assert rulebase._names(reversed(agent_ids)) is remembered


def test_names_json_remembered_by_identity_never_changes_a_digest(rulebase: Rulebase) -> None:
    from mbc_rules import result as module

    first = rulebase.evaluate(PROFILE)
    module._NAMES_JSON_MEMO.clear()
    assert result_digest(first) == first.digest
    assert result_digest(first) == first.digest  # remembered now
    agents = (*first.names.agents, first.names.agents[0].model_copy(update={"id": "x"}))
    edited = first.model_copy(update={"names": first.names.model_copy(update={"agents": agents})})
    assert result_digest(edited) != first.digest


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles())
def test_an_evaluations_names_are_result_names_of_what_it_names(profile: dict[str, Any]) -> None:
    # The names a result carries are remembered (by the options' identity, by the set of
    # ids): they stay what result_names gives for every id the answer names.
    from mbc_rules.facts import treatment_history
    from mbc_rules.result import named_agents
    from mbc_rules.wording import result_names

    rulebase = Rulebase.bundled(engine="compiled")
    for _ in range(2):  # the second time from memory
        result = rulebase.evaluate(profile)
        named = [
            *(agent for option in result.options for agent in named_agents(option)),
            *(agent for item in result.not_recommended for agent in item.agents),
            *(u.agent for u in treatment_history(result.profile, rulebase.vocabulary).uses),
            *(t.agent for t in result.profile.prior_therapies or ()),
        ]
        assert result.names == result_names(rulebase.vocabulary, rulebase.sources, named)
        assert result.digest == result_digest(result)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agent_ids=st.lists(st.sampled_from(AGENT_IDS), max_size=6),
    extra=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=12)), max_size=3),
)
def test_names_json_written_from_its_parts_is_pydantics(
    agent_ids: list[str], extra: list[tuple[str, str]]
) -> None:
    from mbc_rules import result as module
    from mbc_rules.result import AgentName, Names

    rulebase = Rulebase.bundled(engine="compiled")
    shared = rulebase._names(agent_ids)
    # Names of the rulebase (parts shared), built afresh, with any text, and as a list.
    own = Names(
        agents=(*shared.agents, *(AgentName(id=i, name=n) for i, n in extra)),
        sources=shared.sources,
    )
    fields: dict[str, Any] = {"agents": list(own.agents), "sources": list(own.sources)}
    loose = Names.model_construct(**fields)
    for names in (shared, own, loose, Names()):
        for _ in range(2):  # written, then remembered
            assert module._names_json(names) == module._NAMES_JSON.to_json(names, warnings=False)

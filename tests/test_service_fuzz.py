"""Hostile hook calls, generated: whatever the body, the answer is cards or a 4xx, never a crash.

In-process (no HTTP) so that hypothesis can try many: the same code the server runs in its
worker thread, from the raw body to the cards.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import Rulebase
from mbc_rules.service.app import ServiceConfig, _Hooks
from mbc_rules.service.contract import SERVICES, RequestError
from mbc_rules.service.hooks import parse_request
from tests.servicekit import RESPONSE_VALIDATOR, hook_call, hr_positive_record, medication_request

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def hooks() -> _Hooks:
    return _Hooks(ServiceConfig(rulebase=Rulebase.bundled(engine="python")))


def answer(hooks: _Hooks, body: bytes, hook: str) -> list[dict[str, Any]] | int:
    service = next(s for s in SERVICES if s.hook == hook)
    refused: RequestError | None = None
    try:
        cards = hooks.answer(service, parse_request(body, service))
    except RequestError as error:
        refused = error
    if refused is not None:
        assert 400 <= refused.status < 500
        assert refused.message
        return refused.status
    RESPONSE_VALIDATOR.validate({"cards": cards})
    return cards


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


def _valid_call(hook: str) -> dict[str, Any]:
    call = hook_call(hook, hr_positive_record())
    if hook == "order-select":
        order = medication_request("o1", "fulvestrant", rxnorm="282357")
        call["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": order}]}
        call["context"]["selections"] = ["MedicationRequest/o1"]
    return call


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), hook=st.sampled_from(["patient-view", "order-select"]))
def test_a_valid_call_with_one_value_replaced(
    hooks: _Hooks, data: st.DataObject, hook: str
) -> None:
    call = _valid_call(hook)
    path = data.draw(st.sampled_from(_paths(call)))
    mutated = _replace(copy.deepcopy(call), path, data.draw(JSON))
    answer(hooks, json.dumps(mutated).encode(), hook)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON, hook=st.sampled_from(["patient-view", "order-select"]))
def test_any_json_body(hooks: _Hooks, body: Any, hook: str) -> None:
    assert isinstance(answer(hooks, json.dumps(body).encode(), hook), int)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200))
def test_any_bytes(hooks: _Hooks, body: bytes) -> None:
    answer(hooks, body, "patient-view")


def test_the_unmutated_calls_answer_cards(hooks: _Hooks) -> None:
    for hook in ("patient-view", "order-select"):
        cards = answer(hooks, json.dumps(_valid_call(hook)).encode(), hook)
        assert isinstance(cards, list)
        assert cards

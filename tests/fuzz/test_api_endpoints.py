"""Agent import and agent events with random and wrongly typed JSON: a 4xx problem,
and not one row stored (both endpoints are all or nothing)."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from config.api import PROBLEM_CONTENT_TYPE
from presence.models import AcdState
from presence.rules.services import reason_codes_ensure
from tests.accounts.factories import AgentFactory, BusinessUnitFactory
from tests.fuzz.conftest import row_counts
from tests.plugins.hypothesis_profiles import examples

AGENTS = "/api/v1/agents"
UNITS = "/api/v1/business-units"
EVENTS = "/api/v1/agent-events"

# The database, the key and the unit below are shared by every example: each example
# compares row counts around its own request, and a refused request writes nothing.
FUZZ = settings(
    max_examples=examples(50),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "a\x00b", "x" * 5000, "é" * 300, "😀", "null", "-1"]),
)
# Lists nested past the API's depth limit, anywhere a value may go.
too_deep = st.integers(33, 400).map(
    lambda depth: functools.reduce(lambda v, _: [v], range(depth), 1)
)
anything = (
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
        max_leaves=15,
    )
    | too_deep
)


def nested(depth: int, opener: str, inner: str, closed: bool) -> str:
    """JSON text `depth` levels deep: lists or objects, closed (valid) or left open."""
    closer = "]" if opener == "[" else "}"
    return opener * depth + inner + (closer * depth if closed else "")


# Deeper than any body the API takes (config/api_body.py), up to far past the interpreter's
# recursion limit, which the attack on a running instance used.
deep_json = st.builds(
    nested,
    depth=st.one_of(st.integers(33, 1200), st.integers(1200, 30_000)),
    opener=st.sampled_from(["[", '{"a":']),
    inner=st.sampled_from(["1", '"x"', "null", "[]"]),
    closed=st.booleans(),
)


@pytest.fixture
def unit(db):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    return unit


@pytest.fixture
def agent(unit):
    return AgentFactory(external_id="ACD-1", business_unit=unit)


def send(client, method: str, path: str, key: str, body: Any):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.generic(
        method, path, data=data, content_type="application/json", HTTP_X_API_KEY=key
    )


def assert_refused_and_nothing_stored(response, before: dict[str, int]) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["title"] and problem["detail"]
    assert row_counts() == before


# --- PUT /agents ------------------------------------------------------------------------

valid_agent = st.fixed_dictionaries(
    {
        "external_id": st.from_regex(r"\AACD-[0-9]{1,6}\Z"),
        "name": st.sampled_from(["Ana Ruiz", "Bo Chen"]),
        "business_unit": st.just("voice"),
    },
    optional={"email": st.just("ana@contoso.example"), "teams": st.just(["Support"])},
)
# Never the existing unit's code: a row with these is refused whatever else it holds.
bad_unit = anything.filter(lambda value: value != "voice")


@st.composite
def junk_agent(draw) -> dict[str, Any]:
    row = draw(
        st.dictionaries(st.sampled_from(["external_id", "name", "email", "teams"]), anything)
    )
    if draw(st.booleans()):
        row["business_unit"] = draw(bad_unit)
    if draw(st.booleans()):
        row[draw(st.text(min_size=1, max_size=8))] = draw(anything)  # an unknown field
    return row


@FUZZ
@given(
    rows=st.lists(valid_agent, max_size=3).flatmap(
        lambda good: st.tuples(st.just(good), junk_agent(), st.integers(0, len(good)))
    )
)
@example(rows=([], {"external_id": "a\x00b", "name": "Ana", "business_unit": "nope"}, 0))
def test_agents_with_a_bad_row_are_refused_whole(client, api_key, unit, rows):
    good, junk, position = rows
    before = row_counts()
    response = send(client, "PUT", AGENTS, api_key, {"agents": [*good[:position], junk]})
    assert_refused_and_nothing_stored(response, before)


@FUZZ
@given(body=anything)
@example(body={"agents": "ACD-1"})
@example(body={"agents": [None]})
@example(body={"agents": [{"external_id": "ACD-1", "name": "\x00", "business_unit": "voice"}]})
@example(body={"agents": [{"external_id": "\x00", "name": "A", "business_unit": "voice"}]})
@example(
    body={
        "agents": [{"external_id": "A", "name": "A", "business_unit": "voice", "teams": ["\x00"]}]
    }
)
@example(body={"business_units": [{"code": "voice", "name": "\x00"}]})
def test_any_json_body_is_a_problem_for_agents_and_units(client, api_key, unit, body):
    for path in (AGENTS, UNITS):
        if body == {"agents": []} and path == AGENTS:
            continue  # a valid, empty batch
        if body == {"business_units": []} and path == UNITS:
            continue
        before = row_counts()
        assert_refused_and_nothing_stored(send(client, "PUT", path, api_key, body), before)


@FUZZ
@given(raw=st.binary(max_size=2000))
@example(raw=b'{"agents": [')
@example(raw=b"\xff\xfe")
@example(raw=b"")
def test_bytes_that_are_not_json_are_a_400_problem(client, api_key, unit, raw):
    try:
        json.loads(raw)
        return  # happened to be JSON: the tests above cover it
    except ValueError:
        pass
    before = row_counts()
    response = send(client, "PUT", AGENTS, api_key, raw)
    # No body at all is a missing payload (422, path "body"); anything else is malformed.
    assert response.status_code == (422 if raw == b"" else 400)
    assert_refused_and_nothing_stored(response, before)


# --- POST /agent-events --------------------------------------------------------------------


def valid_event(sequence: int) -> dict[str, Any]:
    return {
        "agent": "ACD-1",
        "state": "working",
        "occurred_at": "2026-03-01T09:30:00Z",
        "sequence": sequence,
    }


BREAKS = {
    "agent": anything.filter(lambda value: value != "ACD-1"),
    "state": anything.filter(lambda value: value not in AcdState.values),
    "sequence": st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=2**63),
        st.booleans(),
        st.floats(),
        st.text(max_size=10),
        st.none(),
    ),
    "occurred_at": st.sampled_from(
        [
            *(None, "", "yesterday", "2026-03-01T09:30:00", "2026-13-01T00:00:00Z", [], {}),
            "\x00",
            # Times PostgreSQL stores and Python cannot read back, and absurd ones.
            *("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"),
            *("1970-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
        ]
    ),
    "interaction": anything.filter(lambda value: value not in ("none", "internal", "customer")),
    "reason_code": st.text(min_size=1, max_size=70).filter(lambda value: value.strip()),
    "extra": anything,
}


@st.composite
def junk_event(draw) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(BREAKS)))
    event = valid_event(draw(st.integers(0, 10**6)))
    if field == "reason_code":
        event["state"] = draw(st.sampled_from(["working", "available", "unavailable"]))
    if draw(st.booleans()) and field in ("agent", "state", "sequence", "occurred_at"):
        del event[field]  # a required field missing
    else:
        event[field] = draw(BREAKS[field])
    return event


@FUZZ
@given(
    goods=st.integers(min_value=0, max_value=3),
    junk=junk_event(),
    junk_first=st.booleans(),
)
@example(goods=1, junk={**valid_event(1), "reason_code": "\x00"}, junk_first=True)
@example(goods=0, junk={**valid_event(1), "agent": "ACD-1\x00"}, junk_first=False)
def test_events_with_a_bad_one_are_refused_whole(client, api_key, agent, goods, junk, junk_first):
    if junk.get("reason_code", "").strip().lower() in {"break", "lunch", "training", "meeting"}:
        junk["state"] = "working"  # a real reason code is only wrong beside another state
    events = [valid_event(sequence) for sequence in range(goods)]
    events = [junk, *events] if junk_first else [*events, junk]
    before = row_counts()
    response = send(client, "POST", EVENTS, api_key, {"events": events})
    assert_refused_and_nothing_stored(response, before)


@FUZZ
@given(body=anything)
@example(body={"events": []})
@example(body={"events": {"agent": "ACD-1"}})
@example(body={"events": [valid_event(1)] * 1001})
def test_any_json_body_is_a_problem_for_events(client, api_key, agent, body):
    before = row_counts()
    assert_refused_and_nothing_stored(send(client, "POST", EVENTS, api_key, body), before)


# --- Deeply nested JSON, on every endpoint that takes a body ------------------------------

BODY_ENDPOINTS = [("PUT", AGENTS), ("PUT", UNITS), ("POST", EVENTS)]


TOO_DEEP = "The JSON nests deeper than 32 levels."
# A shallow body left open is plain malformed JSON: the parser finds its end first.
NOT_JSON = "The request body could not be parsed as JSON."


def assert_too_deep(response, before: dict[str, int], *, or_malformed: bool = False) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert_refused_and_nothing_stored(response, before)
    assert response.json()["detail"] in ({TOO_DEEP, NOT_JSON} if or_malformed else {TOO_DEEP})


@FUZZ
@given(body=deep_json, where=st.sampled_from(BODY_ENDPOINTS), wrapped=st.booleans())
@example(body="[" * 20_000, where=("POST", EVENTS), wrapped=False)
@example(body=nested(40, "[", "1", closed=True), where=("PUT", AGENTS), wrapped=True)
def test_deeply_nested_json_is_a_400_problem(client, api_key, agent, body, where, wrapped):
    method, path = where
    if wrapped:  # deep inside a field of an otherwise valid body
        body = json.dumps({"events": [{**valid_event(1), "agent": "__DEEP__"}]}).replace(
            '"__DEEP__"', body
        )
    before = row_counts()
    assert_too_deep(send(client, method, path, api_key, body), before, or_malformed=True)


def test_deep_json_with_debug_on_is_still_a_problem_not_the_debug_page(
    client, api_key, agent, settings
):
    settings.DEBUG = True
    before = row_counts()
    for method, path in BODY_ENDPOINTS:
        response = send(client, method, path, api_key, "[" * 20_000)
        assert_too_deep(response, before)
        assert b"REDIS_URL" not in response.content


def test_deep_json_counts_against_the_keys_rate_limit(
    client, api_key, agent, settings, rate_limit_window
):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    for method, path in BODY_ENDPOINTS:
        assert send(client, method, path, api_key, "[" * 20_000).status_code == 400

    assert send(client, "GET", AGENTS, api_key, "").status_code == 429

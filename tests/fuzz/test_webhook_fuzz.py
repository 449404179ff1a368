"""The Graph webhook under hostile input: never a 500, junk never reaches the worker,
and a genuine notification in the same POST as junk is still handed over.

Payloads are built exactly like Graph builds them (tests/presence/support_webhook.py),
then broken by Hypothesis. What the webhook hands over is read back from the real
broker (the ``task_queue`` fixture); validation tokens are checked against keys the
webhook fetches over HTTP.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from presence.sync_models import AcdDelivery, AgentPresence, SyncRecord
from presence.to_acd.sync import notifications_apply
from presence.webhook.notifications import LIFECYCLE_EVENTS
from tests.plugins.hypothesis_profiles import examples
from tests.presence.support_webhook import (
    TokenSigner,
    acd_endpoint_set,
    counter,
    encrypt_like_graph,
    graphish_fixture,  # noqa: F401
    mapped_agent,
    public_key_of,
    subscriber_rule,
)

NOTIFICATIONS = "/graph/notifications"
LIFECYCLE = "/graph/lifecycle"
GOOD_USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"
JUNK_USER = "0f1e2d3c-4b5a-4968-8776-655443322110"

# Shared fixtures (database, signed client, queue) are reused by every example: each
# example clears the queue first and asserts only on what its own POST did.
FUZZ = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "\ud800", "null", "ZZZ", "=" * 7, "A" * 5000]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
# Text that is not base64, base64 of the wrong bytes, and outright wrong types.
bad_base64 = st.one_of(
    st.text(min_size=1, max_size=60),
    st.binary(min_size=1, max_size=300).map(lambda raw: base64.b64encode(raw).decode()),
    json_values,
)


# Nesting far deeper than the parser allows (within the body size limit), and just
# shallow enough for it, which then reaches the checks. json.dumps cannot write
# either, so it is written as text.
NESTINGS = [("[", "]"), ('{"a":', "}"), ('{"value":', "}"), ('[{"value":', "}]")]


@st.composite
def deep_json(draw) -> str:
    depth = draw(st.sampled_from([900, 990, 1_001, 20_000]) | st.integers(1, 50_000))
    opener, closer = draw(st.sampled_from(NESTINGS))
    if not draw(st.booleans(), label="closed"):
        return opener * depth
    inner = draw(st.sampled_from(["1", "null", '"x"', "[]", "{}"]))
    return opener * depth + inner + closer * depth


def post(client, body: Any, path: str = NOTIFICATIONS):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json")


def queued_users(task_queue) -> list[str]:
    return [item["user_id"] for item in task_queue.notification_items()]


# --- whole POSTs that are not notifications ------------------------------------------------


@pytest.mark.parametrize("path", [NOTIFICATIONS, LIFECYCLE])
@FUZZ
@given(raw=st.binary(max_size=4096))
@example(raw=b"")
@example(raw=b"\xff\xfe{")
@example(raw=b'{"value": "not a list"}')
@example(raw=b'{"value": [], "validationTokens": "x"}')
@example(raw=b"[1, 2, 3]")
def test_random_bytes_are_refused_without_a_500(client, graphish, task_queue, path, raw):
    task_queue.clear()
    response = post(client, raw, path)
    assert response.status_code in (202, 400), response.content
    assert task_queue.messages() == []


@FUZZ
@given(data=st.data())
def test_truncated_json_is_a_400_and_queues_nothing(client, graphish, task_queue, data):
    task_queue.clear()
    text = json.dumps(graphish.body(graphish.item(GOOD_USER)))
    cut = data.draw(st.integers(min_value=0, max_value=len(text) - 1), label="cut")
    response = post(client, text[:cut].encode())
    assert response.status_code == 400
    assert task_queue.messages() == []


@FUZZ
@given(extra=st.integers(min_value=1, max_value=50_000), filler=st.sampled_from(" x\x00{"))
def test_a_body_over_the_limit_is_413_and_queues_nothing(
    client, graphish, task_queue, settings, extra, filler
):
    task_queue.clear()
    settings.GRAPH_WEBHOOK_MAX_BODY_BYTES = 4096
    genuine = json.dumps(graphish.body(graphish.item(GOOD_USER))).encode()
    raw = genuine + filler.encode() * (4096 - len(genuine) + extra)
    before = counter("rejected_too_large")
    response = post(client, raw)
    assert response.status_code == 413
    assert task_queue.messages() == []
    assert counter("rejected_too_large") == before + 1


@FUZZ
@given(body=json_values)
@example(body={"value": [None, 1, "x", [], {}]})
@example(body={"value": [{"subscriptionId": "\x00"}]})
@example(body={"value": [{"subscriptionId": "\ud800"}]})
@example(body={"value": {"subscriptionId": "x"}})
@example(body="\ud800")
def test_any_json_shape_is_refused_without_a_500(client, graphish, task_queue, body):
    task_queue.clear()
    response = post(client, body)
    assert response.status_code in (202, 400), response.content
    assert task_queue.messages() == []


@pytest.mark.parametrize("path", [NOTIFICATIONS, LIFECYCLE])
@FUZZ
@given(text=deep_json(), wrapped=st.booleans())
@example(text="[" * 20_000, wrapped=False)
@example(text='{"a":' * 20_000, wrapped=False)
@example(text="[" * 20_000, wrapped=True)
def test_deep_nesting_is_refused_without_a_500(client, graphish, task_queue, path, text, wrapped):
    task_queue.clear()
    body = f'{{"value": {text}}}' if wrapped else text
    response = post(client, body.encode(), path)
    assert response.status_code in (202, 400), response.content
    assert task_queue.messages() == []


# --- one broken item beside a genuine one ---------------------------------------------------

ITEM_FIELDS = ["subscriptionId", "clientState", "encryptedContent", "resourceData", "resource"]
CONTENT_FIELDS = ["data", "dataKey", "dataSignature", "encryptionCertificateId"]
# Fields the webhook does not need: Graph's own bookkeeping, or resourceData (the
# decrypted resource carries the user id). Breaking them leaves a genuine item genuine.
UNCHECKED = {("item", "resource"), ("item", "resourceData")}


@st.composite
def breakages(draw) -> tuple[str, str, Any]:
    """(level, field, new value or DELETE) for one item."""
    level = draw(st.sampled_from(["item", "content"]))
    fields = ITEM_FIELDS if level == "item" else CONTENT_FIELDS
    field = draw(st.sampled_from(fields))
    value = draw(st.one_of(st.just(DELETE), bad_base64 if level == "content" else json_values))
    return level, field, value


DELETE = object()


def broken(item: dict, level: str, field: str, value: Any) -> dict:
    item = copy.deepcopy(item)
    target = item if level == "item" else item["encryptedContent"]
    if value is DELETE:
        target.pop(field, None)
    else:
        target[field] = value
    return item


@FUZZ
@given(breakage=breakages(), junk_first=st.booleans())
@example(breakage=("item", "clientState", "\ud800"), junk_first=True)
@example(breakage=("item", "subscriptionId", "abc\x00def"), junk_first=True)
@example(breakage=("content", "encryptionCertificateId", "\x00"), junk_first=False)
@example(breakage=("content", "encryptionCertificateId", "\udfff"), junk_first=False)
@example(breakage=("content", "dataSignature", base64.b64encode(b"\0" * 32).decode()), junk_first=0)
@example(breakage=("content", "data", "not base64!"), junk_first=True)
def test_a_broken_item_is_refused_and_its_genuine_neighbour_is_queued(
    client, graphish, task_queue, breakage, junk_first
):
    task_queue.clear()
    level, field, value = breakage
    good = graphish.item(GOOD_USER, "Away", "Away", sequence=7)
    junk = broken(graphish.item(JUNK_USER, "Busy", "InACall", sequence=8), level, field, value)
    items = [junk, good] if junk_first else [good, junk]
    response = post(client, graphish.body(*items))
    assert response.status_code == 202
    queued = {item["user_id"]: item for item in task_queue.notification_items()}
    assert queued[GOOD_USER]["availability"] == "Away"
    if (level, field) in UNCHECKED:
        assert set(queued) <= {GOOD_USER, JUNK_USER}
    elif (level, field, value) == ("item", "encryptedContent", DELETE):
        # Without resource data a genuine item still says "this user changed": the
        # worker reconciles the user instead (no values are taken from the item).
        assert queued[JUNK_USER]["availability"] is None
    else:
        assert set(queued) == {GOOD_USER}, f"{level}.{field}={value!r} was accepted"


PLACEHOLDER = "__nested__"


@FUZZ
@given(
    level=st.sampled_from(["item", "content", "tokens"]),
    field=st.sampled_from([*ITEM_FIELDS, "lifecycleEvent"]),
    content_field=st.sampled_from(CONTENT_FIELDS),
    text=deep_json(),
)
@example(level="item", field="lifecycleEvent", content_field="data", text="[" * 990 + "]" * 990)
def test_deep_nesting_in_an_item_never_lets_it_through(
    client, graphish, task_queue, level, field, content_field, text
):
    """Deep enough to break the parser: the POST is refused. Shallow enough to parse:
    only the item carrying it is refused."""
    task_queue.clear()
    good = graphish.item(GOOD_USER, "Away", "Away", sequence=7)
    junk = graphish.item(JUNK_USER, "Busy", "InACall", sequence=8)
    tokens = [graphish.signer.token()]
    if level == "item":
        junk[field] = PLACEHOLDER
    elif level == "content":
        junk["encryptedContent"][content_field] = PLACEHOLDER
    else:
        tokens.append(PLACEHOLDER)
    body = json.dumps(graphish.body(junk, good, tokens=tokens))
    response = post(client, body.replace(f'"{PLACEHOLDER}"', text, 1).encode())

    assert response.status_code in (202, 400), response.content
    queued = {item["user_id"] for item in task_queue.notification_items()}
    if response.status_code == 400:
        assert queued == set()
    elif level == "item" and ("item", field) in UNCHECKED:
        assert queued == {GOOD_USER, JUNK_USER}
    else:
        assert queued == {GOOD_USER}, f"{level}.{field or content_field} nested was accepted"


@FUZZ
@given(text=deep_json())
def test_a_deeply_nested_resource_behind_a_good_signature_is_refused(
    client, graphish, task_queue, text
):
    """Anyone holding our public certificate can encrypt and sign a resource."""
    task_queue.clear()
    before = counter("rejected_malformed")
    item = graphish.item(JUNK_USER)
    item["encryptedContent"] = encrypt_like_graph(
        public_key_of(graphish.certificate), graphish.certificate.certificate_id, text.encode()
    )
    good = graphish.item(GOOD_USER, "Away", "Away")
    assert post(client, graphish.body(item, good)).status_code == 202
    assert [item["user_id"] for item in task_queue.notification_items()] == [GOOD_USER]
    assert counter("rejected_malformed") == before + 1


@FUZZ
@given(signature=st.binary(min_size=0, max_size=64))
def test_a_forged_data_signature_is_refused(client, graphish, task_queue, signature):
    task_queue.clear()
    before = counter("rejected_bad_signature") + counter("rejected_malformed")
    item = graphish.item(GOOD_USER)
    item["encryptedContent"]["dataSignature"] = base64.b64encode(signature).decode()
    assert post(client, graphish.body(item)).status_code == 202
    assert task_queue.messages() == []
    assert counter("rejected_bad_signature") + counter("rejected_malformed") == before + 1


@FUZZ
@given(client_state=st.text(max_size=200))
def test_a_wrong_client_state_is_refused(client, graphish, task_queue, client_state):
    if client_state == graphish.client_state:
        return
    task_queue.clear()
    item = graphish.item(GOOD_USER, clientState=client_state)
    assert post(client, graphish.body(item)).status_code == 202
    assert task_queue.messages() == []


@FUZZ
@given(
    tokens=st.one_of(
        st.lists(st.text(max_size=80), min_size=1, max_size=3),
        st.lists(json_scalars, min_size=1, max_size=3),
        st.sampled_from(["forged-same-kid", "other-app", "expired", "not-graph", "other-tenant"]),
    )
)
@example(tokens=["\ud800"])
@example(tokens=["eyJ\x00.e30.x"])
def test_forged_validation_tokens_refuse_the_whole_post(client, graphish, task_queue, tokens):
    task_queue.clear()
    signer = graphish.signer
    if isinstance(tokens, str):
        tokens = [
            {
                "forged-same-kid": lambda: TokenSigner(kid=signer.kid).token(),
                "other-app": lambda: signer.token(aud=str(uuid.uuid4())),
                "expired": lambda: signer.token(exp=1_000_000, iat=999_000, nbf=999_000),
                "not-graph": lambda: signer.token(appid=str(uuid.uuid4()), azp=None),
                "other-tenant": lambda: signer.token(tenant_id=str(uuid.uuid4())),
            }[tokens](),
            signer.token(),
        ]
    response = post(client, graphish.body(graphish.item(GOOD_USER), tokens=tokens))
    assert response.status_code == 400
    assert task_queue.messages() == []


@FUZZ
@given(event=json_values, client_state_ok=st.booleans())
@example(event="missed", client_state_ok=False)
def test_lifecycle_junk_is_refused(client, graphish, task_queue, event, client_state_ok):
    task_queue.clear()
    item = {
        "subscriptionId": graphish.subscription.graph_id,
        "clientState": graphish.client_state if client_state_ok else "guess",
        "lifecycleEvent": event,
    }
    assert post(client, {"value": [item]}, LIFECYCLE).status_code == 202
    genuine = client_state_ok and isinstance(event, str) and event in LIFECYCLE_EVENTS
    expected = [(graphish.subscription.graph_id, event)] if genuine else []
    assert task_queue.lifecycle_events() == expected


# --- replays ---------------------------------------------------------------------------------


@pytest.fixture
def unit(db):
    from presence.rules.services import reason_codes_ensure
    from tests.accounts.factories import BusinessUnitFactory

    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    return unit


@FUZZ
@given(replays=st.integers(min_value=2, max_value=5), sequence=st.integers(1, 10**12))
def test_a_replayed_notification_is_applied_once(
    client, graphish, task_queue, unit, replays, sequence
):
    """Graph may deliver the same notification again: the webhook queues each delivery
    (it cannot know), the worker applies it once (sequence numbers)."""
    task_queue.clear()
    AgentPresence.objects.all().delete()
    SyncRecord.objects.all().delete()
    AcdDelivery.objects.all().delete()
    rule = subscriber_rule(unit, [("Busy", None, "working", None)], name=f"Rule {uuid.uuid4()}")
    agent = mapped_agent(graph_id=str(uuid.uuid4()), unit=unit, rule=rule)
    acd_endpoint_set("https://acd.example/hook")
    user_id = agent.mapping.directory_user.graph_id
    body = graphish.body(graphish.item(user_id, "Busy", "InACall", sequence=sequence))
    for _ in range(replays):
        assert post(client, body).status_code == 202
    items = task_queue.notification_items()
    assert len(items) == replays
    for item in items:  # as the worker does, one task after the other
        notifications_apply([item])
    presence = AgentPresence.objects.get(agent=agent)
    assert (presence.teams_availability, presence.acd_state) == ("Busy", "working")
    assert list(SyncRecord.objects.filter(agent=agent).values_list("outcome", flat=True)) == [
        SyncRecord.Outcome.APPLIED
    ]
    assert AcdDelivery.objects.count() == 1

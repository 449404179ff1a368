"""Presence calls: bulk reads in chunks of 650, setting and clearing the app's
presence session, and the validation that happens before any HTTP call
(docs/graph.md, "Presence")."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from graph.client import GraphClient
from graph.errors import InvalidRequest, NotFound
from graph.presence import (
    ACTIVITIES,
    AVAILABILITIES,
    PREFERRED_PAIRS,
    SETTABLE_PAIRS,
    InvalidPresence,
    Presence,
    clear_presence,
    format_duration,
    get_presence,
    get_presences,
    set_preferred_presence,
    set_presence,
)
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


def test_the_tables_are_graphs() -> None:
    """docs/graph.md: the five setPresence pairs, the six preferred pairs, and the values."""
    assert SETTABLE_PAIRS == (
        ("Available", "Available"), ("Busy", "InACall"), ("Busy", "InAConferenceCall"),
        ("Away", "Away"), ("DoNotDisturb", "Presenting"),
    )  # fmt: skip
    assert ("Offline", "OffWork") in PREFERRED_PAIRS and len(PREFERRED_PAIRS) == 6
    assert len(AVAILABILITIES) == 9 and len(ACTIVITIES) == 15
    assert all(a in AVAILABILITIES and b in ACTIVITIES for a, b in SETTABLE_PAIRS)


@pytest.mark.parametrize(
    ("duration", "text"),
    [(timedelta(minutes=5), "PT5M"), (timedelta(hours=4), "PT4H"),
     (timedelta(hours=1, minutes=30), "PT1H30M"), (timedelta(seconds=330), "PT5M30S")],
)  # fmt: skip
def test_durations_are_iso_8601(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


def test_get_presences_asks_for_650_ids_at_a_time(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    """docs/graph.md: getPresencesByUserId takes at most 650 ids."""
    real = [u["id"] for u in sim_tenant.users]
    ids = real + [str(uuid.uuid4()) for _ in range(700 - len(real))]
    presences = get_presences(client, ids)
    assert len(presences) == 700
    assert {p.user_id for p in presences} == set(ids)
    calls = [c for c in graphsim.control.calls(tenant=sim_tenant.tenant_id)
             if c["path"] == "/v1.0/communications/getPresencesByUserId"]  # fmt: skip
    assert len(calls) == 2
    known = [p for p in presences if p.user_id in real]
    assert all(p.availability in AVAILABILITIES and p.activity in ACTIVITIES for p in known)
    assert get_presences(client, []) == []
    assert client.request_count == 2


@pytest.mark.parametrize(
    ("availability", "activity", "expiration"),
    [
        ("Busy", "Busy", timedelta(minutes=30)),  # a preferred pair, not a session pair
        ("Available", "InACall", timedelta(minutes=30)),
        ("Offline", "OffWork", timedelta(minutes=30)),
        ("Available", "Available", timedelta(minutes=4, seconds=59)),
        ("Available", "Available", timedelta(hours=4, minutes=1)),
    ],
)
def test_set_presence_refuses_what_graph_would_refuse_before_calling_it(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    client: GraphClient,
    availability: str,
    activity: str,
    expiration: timedelta,
) -> None:
    """docs/graph.md: settable pairs only; expirationDuration PT5M..PT4H."""
    with pytest.raises(InvalidPresence) as info:
        set_presence(
            client,
            sim_tenant.users[0]["id"],
            session_id=sim_tenant.client_id,
            availability=availability,
            activity=activity,
            expiration=expiration,
        )
    assert isinstance(info.value, InvalidRequest) and isinstance(info.value, ValueError)
    assert client.request_count == 0
    assert graphsim.control.calls(tenant=sim_tenant.tenant_id) == []


def test_set_then_clear_presence(sim_tenant: SimTenant, client: GraphClient) -> None:
    """docs/graph.md: setPresence → 200; clearPresence → 200 (404 if no such session);
    no session → Offline."""
    user = sim_tenant.users[3]["id"]
    session = sim_tenant.client_id
    set_presence(
        client, user, session_id=session, availability="Busy", activity="InACall",
        expiration=timedelta(hours=1),
    )  # fmt: skip
    now = get_presence(client, user)
    assert (now.availability, now.activity) == ("Busy", "InACall")
    assert now.sequence_number

    clear_presence(client, user, session_id=session)
    assert get_presence(client, user).availability == "Offline"
    with pytest.raises(NotFound):
        clear_presence(client, user, session_id=session)


def test_preferred_presence_pairs_are_checked_too(
    sim_tenant: SimTenant, client: GraphClient
) -> None:
    with pytest.raises(InvalidPresence):
        set_preferred_presence(
            client, sim_tenant.users[0]["id"], availability="Busy", activity="InACall"
        )
    assert client.request_count == 0


def test_presence_reads_the_status_message_text() -> None:
    presence = Presence.from_graph(
        {"id": "u", "availability": "Away", "activity": "Away",
         "statusMessage": {"message": {"content": "Back at 2", "contentType": "text"}}}
    )  # fmt: skip
    assert presence.status_message == "Back at 2"

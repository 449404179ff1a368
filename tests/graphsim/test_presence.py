"""Presence (docs/graph.md, Presence): the shape, settable pairs, session expiry,
user-preferred presence and aggregation."""

from __future__ import annotations

import pytest

from tests.graphsim.test_graph_auth import assert_graph_error
from tests.plugins.graphsim_server import SimTenant


@pytest.fixture
def agent(sim_tenant: SimTenant) -> str:
    return next(u["id"] for u in sim_tenant.users if u["accountEnabled"])


def read(graph, user_id: str) -> dict:
    response = graph.get(f"/users/{user_id}/presence")
    assert response.status_code == 200, response.text
    return response.json()


def set_presence(
    graph, sim_tenant: SimTenant, user_id: str, availability: str, activity: str, **extra
):
    body = {
        "sessionId": sim_tenant.client_id,
        "availability": availability,
        "activity": activity,
        **extra,
    }
    return graph.post(f"/users/{user_id}/presence/setPresence", body)


def test_shape_and_offline_without_sessions(graph, agent: str) -> None:
    """docs/graph.md: {"id","availability","activity","statusMessage","outOfOfficeSettings",
    "sequenceNumber"}; no session → Offline/Offline."""
    body = read(graph, agent)
    assert body["id"] == agent
    assert (body["availability"], body["activity"]) == ("Offline", "Offline")
    assert {"statusMessage", "outOfOfficeSettings", "sequenceNumber"} <= set(body)
    assert body["outOfOfficeSettings"]["isOutOfOffice"] is False


def test_communications_presences_reads_the_same(
    graph, graphsim, sim_tenant: SimTenant, agent: str
) -> None:
    graphsim.control.set_presence(sim_tenant.tenant_id, agent, "Busy", "InACall")
    body = graph.get(f"/communications/presences/{agent}").json()
    assert (body["availability"], body["activity"]) == ("Busy", "InACall")


@pytest.mark.parametrize(
    ("availability", "activity"),
    [("Available", "Available"), ("Busy", "InACall"), ("Busy", "InAConferenceCall"),
     ("Away", "Away"), ("DoNotDisturb", "Presenting")],
)  # fmt: skip
def test_settable_pairs_are_accepted(graph, sim_tenant, agent, availability, activity) -> None:
    """docs/graph.md: settable pairs for setPresence."""
    assert set_presence(graph, sim_tenant, agent, availability, activity).status_code == 200
    body = read(graph, agent)
    assert (body["availability"], body["activity"]) == (availability, activity)


@pytest.mark.parametrize(
    ("availability", "activity"),
    [("Busy", "Busy"), ("Available", "InACall"), ("DoNotDisturb", "DoNotDisturb"),
     ("BeRightBack", "BeRightBack"), ("Offline", "OffWork")],
)  # fmt: skip
def test_other_pairs_are_refused(graph, sim_tenant, agent, availability, activity) -> None:
    assert_graph_error(
        set_presence(graph, sim_tenant, agent, availability, activity), 400, "BadRequest"
    )


def test_session_id_must_be_the_callers_client_id(graph, agent: str) -> None:
    body = {
        "sessionId": "22222222-2222-2222-2222-222222222222",
        "availability": "Away",
        "activity": "Away",
    }
    assert_graph_error(graph.post(f"/users/{agent}/presence/setPresence", body), 400, "BadRequest")


@pytest.mark.parametrize("duration", ["PT4M", "PT4H1M", "P1D"])
def test_expiration_outside_pt5m_to_pt4h_is_refused(graph, sim_tenant, agent, duration) -> None:
    """docs/graph.md, "Presence": expirationDuration PT5M..PT4H, else InvalidArgument."""
    response = set_presence(graph, sim_tenant, agent, "Away", "Away", expirationDuration=duration)
    assert_graph_error(response, 400, "InvalidArgument")
    assert (
        response.json()["error"]["message"] == "The provided [ExpirationDuration] is out of range."
    )


def test_expiration_that_is_no_duration_is_a_bad_request(graph, sim_tenant, agent) -> None:
    response = set_presence(
        graph, sim_tenant, agent, "Away", "Away", expirationDuration="five minutes"
    )
    assert_graph_error(response, 400, "BadRequest")


@pytest.mark.parametrize("duration", ["PT5M", "PT1H30M", "PT4H"])
def test_expiration_within_bounds_is_accepted(graph, sim_tenant, agent, duration) -> None:
    response = set_presence(graph, sim_tenant, agent, "Away", "Away", expirationDuration=duration)
    assert response.status_code == 200


def test_session_expires_after_its_duration(graph, graphsim, sim_tenant, agent) -> None:
    """docs/graph.md: an expired session disappears; default expiry PT5M."""
    set_presence(graph, sim_tenant, agent, "Busy", "InACall")
    assert read(graph, agent)["availability"] == "Busy"
    graphsim.control.advance_clock(5 * 60 + 1)
    assert read(graph, agent)["availability"] == "Offline"


def test_clear_presence_ends_the_session_and_404_when_none(graph, sim_tenant, agent) -> None:
    set_presence(graph, sim_tenant, agent, "Busy", "InACall")
    path = f"/users/{agent}/presence/clearPresence"
    assert graph.post(path, {"sessionId": sim_tenant.client_id}).status_code == 200
    assert read(graph, agent)["availability"] == "Offline"
    assert graph.post(path, {"sessionId": sim_tenant.client_id}).status_code == 404


def test_do_not_disturb_beats_busy_beats_available_beats_away(
    graph, graphsim, sim_tenant, agent
) -> None:
    """docs/graph.md aggregation: between sessions DoNotDisturb > Busy > Available > Away."""
    tenant = sim_tenant.tenant_id
    graphsim.control.set_presence(tenant, agent, "Away", "Away")
    set_presence(graph, sim_tenant, agent, "Available", "Available")
    assert read(graph, agent)["availability"] == "Available"
    graphsim.control.set_presence(tenant, agent, "Busy", "InAMeeting")
    assert read(graph, agent)["availability"] == "Busy"
    set_presence(graph, sim_tenant, agent, "DoNotDisturb", "Presenting")
    assert (read(graph, agent)["availability"], read(graph, agent)["activity"]) == (
        "DoNotDisturb",
        "Presenting",
    )


def test_preferred_presence_beats_every_session(graph, graphsim, sim_tenant, agent) -> None:
    """docs/graph.md: a user-preferred (hand-set) state beats every session."""
    graphsim.control.set_presence(sim_tenant.tenant_id, agent, "Away", "Away", preferred=True)
    set_presence(graph, sim_tenant, agent, "DoNotDisturb", "Presenting")
    assert (read(graph, agent)["availability"], read(graph, agent)["activity"]) == ("Away", "Away")


@pytest.mark.parametrize(
    ("availability", "activity"),
    [("Available", "Available"), ("Busy", "Busy"), ("DoNotDisturb", "DoNotDisturb"),
     ("BeRightBack", "BeRightBack"), ("Away", "Away"), ("Offline", "OffWork")],
)  # fmt: skip
def test_set_user_preferred_presence_pairs(
    graph, graphsim, sim_tenant, agent, availability, activity
) -> None:
    """docs/graph.md: setUserPreferredPresence pairs; it applies while a session exists."""
    graphsim.control.set_presence(sim_tenant.tenant_id, agent, "Available", "Available")
    body = {"availability": availability, "activity": activity, "expirationDuration": "PT1H"}
    assert graph.post(f"/users/{agent}/presence/setUserPreferredPresence", body).status_code == 200
    now = read(graph, agent)
    assert (now["availability"], now["activity"]) == (availability, activity)
    assert graph.post(f"/users/{agent}/presence/clearUserPreferredPresence", {}).status_code == 200
    assert read(graph, agent)["availability"] == "Available"


def test_preferred_pair_outside_its_list_is_refused(graph, agent) -> None:
    body = {"availability": "Busy", "activity": "InACall"}
    assert_graph_error(
        graph.post(f"/users/{agent}/presence/setUserPreferredPresence", body), 400, "BadRequest"
    )


def test_sequence_number_increases_on_each_change(graph, graphsim, sim_tenant, agent) -> None:
    numbers = []
    for availability, activity in [
        ("Available", "Available"),
        ("Busy", "InACall"),
        ("Away", "Away"),
    ]:
        set_presence(graph, sim_tenant, agent, availability, activity)
        numbers.append(read(graph, agent)["sequenceNumber"])
        graph.post(f"/users/{agent}/presence/clearPresence", {"sessionId": sim_tenant.client_id})
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 3


def test_unknown_user_presence_is_404(graph) -> None:
    assert graph.get("/users/00000000-0000-0000-0000-000000000000/presence").status_code == 404

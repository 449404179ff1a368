"""The contact-center API: business units and agents, keys and scopes, problems, docs."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Agent, AgentMapping, AgentTeam, BusinessUnit, DirectoryUser
from config.api import MAX_BODY_BYTES
from integrations.apikeys import api_key_create, api_key_revoke
from integrations.models import AuditEntry
from tests.accounts.factories import AgentFactory, AgentMappingFactory, DirectoryUserFactory
from tests.console.test_security import InlineScriptFinder

AGENTS = "/api/v1/agents"
UNITS = "/api/v1/business-units"
PROBLEM = "application/problem+json"


@pytest.fixture
def key(administrator) -> str:
    _key, raw = api_key_create(
        actor=administrator, name="ACD", scopes=["agents:write", "agents:read"]
    )
    return raw


@pytest.fixture
def api(key) -> Client:
    """A client that sends the key the way most platforms do."""
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def units(db):
    return [
        BusinessUnit.objects.create(code="sales", name="Sales"),
        BusinessUnit.objects.create(code="support", name="Support"),
    ]


def _put(client: Client, url: str, body, **kwargs):
    return client.put(url, json.dumps(body), content_type="application/json", **kwargs)


def _agent(external_id="a-1", **fields) -> dict:
    return {"external_id": external_id, "name": "Alice Adams", "business_unit": "sales"} | fields


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


def _paths(response) -> list[str]:
    return [error["path"] for error in _problem(response, 422)["errors"]]


# --- Business units ------------------------------------------------------------------


def test_business_units_are_created_renamed_and_left_alone(api):
    first = _put(api, UNITS, {"business_units": [{"code": "sales", "name": "Sales"}]})
    assert first.status_code == 200
    assert first.json() == {"created": ["sales"], "updated": [], "unchanged": []}

    second = _put(
        api,
        UNITS,
        {
            "business_units": [
                {"code": "sales", "name": "Sales EMEA"},
                {"code": "support", "name": "Support"},
            ]
        },
    )
    assert second.json() == {"created": ["support"], "updated": ["sales"], "unchanged": []}
    assert BusinessUnit.objects.get(code="sales").name == "Sales EMEA"

    again = _put(api, UNITS, {"business_units": [{"code": "support", "name": "Support"}]})
    assert again.json() == {"created": [], "updated": [], "unchanged": ["support"]}


def test_business_units_are_listed(api, units):
    response = api.get(UNITS)
    assert response.status_code == 200
    assert response.json() == {
        "business_units": [
            {"code": "sales", "name": "Sales"},
            {"code": "support", "name": "Support"},
        ]
    }


def test_business_unit_problems_are_reported_per_row_and_nothing_is_written(api, units):
    response = _put(
        api,
        UNITS,
        {
            "business_units": [
                {"code": "new", "name": "New"},
                {"code": "new", "name": "Newer"},
                {"code": "other", "name": "Support"},
            ]
        },
    )
    assert _paths(response) == ["business_units[1].code", "business_units[2].name"]
    assert set(BusinessUnit.objects.values_list("code", flat=True)) == {"sales", "support"}


def test_business_unit_codes_must_be_slugs(api):
    response = _put(api, UNITS, {"business_units": [{"code": "bad code!", "name": "Bad"}]})
    assert _paths(response) == ["business_units[0].code"]
    assert not BusinessUnit.objects.exists()


# --- Agent upsert -----------------------------------------------------------------------


def test_upsert_creates_agents(api, units):
    response = _put(
        api,
        AGENTS,
        {
            "agents": [
                _agent("a-1", email="alice@example.com"),
                _agent("a-2", name="Bob", business_unit="support", teams_enabled=False),
            ]
        },
    )
    assert response.status_code == 200
    assert response.json() == {"created": ["a-1", "a-2"], "updated": [], "unchanged": []}
    alice = Agent.objects.get(external_id="a-1")
    assert (alice.name, alice.email, alice.business_unit.code) == (
        "Alice Adams",
        "alice@example.com",
        "sales",
    )
    assert Agent.objects.get(external_id="a-2").teams_enabled is False


def test_the_same_upsert_twice_changes_nothing(api, units):
    body = {"agents": [_agent("a-1", teams=["Tier 1"]), _agent("a-2", name="Bob")]}
    _put(api, AGENTS, body)
    audited = AuditEntry.objects.filter(action="agents.upsert").count()

    response = _put(api, AGENTS, body)
    assert response.json() == {"created": [], "updated": [], "unchanged": ["a-1", "a-2"]}
    assert AuditEntry.objects.filter(action="agents.upsert").count() == audited


def test_upsert_updates_only_what_changed(api, units):
    _put(api, AGENTS, {"agents": [_agent("a-1"), _agent("a-2", name="Bob")]})
    response = _put(
        api, AGENTS, {"agents": [_agent("a-1", name="Alice Baker"), _agent("a-2", name="Bob")]}
    )
    assert response.json() == {"created": [], "updated": ["a-1"], "unchanged": ["a-2"]}
    assert Agent.objects.get(external_id="a-1").name == "Alice Baker"


def test_upsert_creates_teams_and_assigns_them(api, units):
    _put(api, AGENTS, {"agents": [_agent("a-1", teams=["Tier 1", "Billing", "Tier 1"])]})
    agent = Agent.objects.get(external_id="a-1")
    assert sorted(agent.teams.values_list("name", flat=True)) == ["Billing", "Tier 1"]
    assert set(AgentTeam.objects.values_list("business_unit__code", flat=True)) == {"sales"}

    response = _put(api, AGENTS, {"agents": [_agent("a-1", teams=["Billing"])]})
    assert response.json()["updated"] == ["a-1"]
    assert list(agent.teams.values_list("name", flat=True)) == ["Billing"]


def test_upsert_is_audited_with_the_key_name(api, units):
    _put(api, AGENTS, {"agents": [_agent("a-1")]})
    entry = AuditEntry.objects.get(action="agents.upsert")
    assert entry.actor_name == "system"
    assert "API key ACD" in entry.summary


def test_unknown_business_units_are_reported_per_row_and_nothing_is_written(api, units):
    response = _put(
        api,
        AGENTS,
        {
            "agents": [
                _agent("a-1"),
                _agent("a-2", business_unit="nope"),
                _agent("a-3", business_unit="gone"),
            ]
        },
    )
    assert _paths(response) == ["agents[1].business_unit", "agents[2].business_unit"]
    assert "nope" in response.json()["errors"][0]["message"]
    assert not Agent.objects.exists()


def test_duplicate_external_ids_in_a_batch_are_refused(api, units):
    response = _put(
        api, AGENTS, {"agents": [_agent("a-1"), _agent("a-2"), _agent("a-1", name="Other")]}
    )
    assert _paths(response) == ["agents[2].external_id"]
    assert "agents[0]" in response.json()["errors"][0]["message"]
    assert not Agent.objects.exists()


def test_bad_emails_are_reported_with_their_paths(api, units):
    response = _put(
        api,
        AGENTS,
        {"agents": [_agent("a-1", email="ok@example.com"), _agent("a-2", email="not an email")]},
    )
    assert _paths(response) == ["agents[1].email"]
    assert response.json()["errors"][0]["message"] == "Enter a valid email address."
    assert not Agent.objects.exists()


def test_missing_and_unknown_fields_are_reported_with_their_paths(api, units):
    row = {"external_id": "a-1", "business_unit": "sales", "teams_enable": True}
    response = _put(api, AGENTS, {"agents": [row]})
    assert sorted(_paths(response)) == ["agents[0].name", "agents[0].teams_enable"]


def test_a_missing_body_is_a_validation_problem(api):
    response = api.put(AGENTS, content_type="application/json")
    assert _paths(response) == ["body"]


def test_malformed_json_is_a_400_problem(api, units):
    response = api.put(AGENTS, '{"agents": [', content_type="application/json")
    body = _problem(response, 400)
    assert "JSON" in body["detail"]


def test_an_oversized_body_is_a_413_problem(api, units):
    padding = "x" * (MAX_BODY_BYTES + 1)
    response = _put(api, AGENTS, {"agents": [], "padding": padding})
    _problem(response, 413)
    assert not Agent.objects.exists()


def test_an_over_long_batch_is_refused_with_a_clear_message(api, units):
    rows = [_agent(f"a-{i}") for i in range(1001)]
    response = _put(api, AGENTS, {"agents": rows})
    assert _paths(response) == ["agents"]
    assert "at most 1000 agents" in response.json()["errors"][0]["message"]
    assert not Agent.objects.exists()


def test_a_full_batch_is_accepted(api, units):
    rows = [_agent(f"a-{i:04}", email=f"a{i}@example.com") for i in range(1000)]
    response = _put(api, AGENTS, {"agents": rows})
    assert response.status_code == 200
    assert len(response.json()["created"]) == 1000


# --- Keys and scopes ---------------------------------------------------------------------


def test_no_key_is_a_401_problem(db):
    body = _problem(Client().get(AGENTS), 401)
    assert "X-API-Key" in body["detail"]


def test_a_wrong_key_is_a_401_problem(key):
    wrong = key[:-2] + ("zz" if not key.endswith("zz") else "yy")
    response = Client(headers={"Authorization": f"Bearer {wrong}"}).get(AGENTS)
    _problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_a_401_problem(administrator, units):
    api_key, raw = api_key_create(actor=administrator, name="Old", scopes=["agents:write"])
    api_key_revoke(actor=administrator, key=api_key)
    response = _put(Client(headers={"X-API-Key": raw}), AGENTS, {"agents": [_agent()]})
    _problem(response, 401)
    assert not Agent.objects.exists()


def test_the_key_may_come_in_the_x_api_key_header(key, units):
    response = Client(headers={"X-API-Key": key}).get(AGENTS)
    assert response.status_code == 200


def test_a_key_without_the_scope_is_a_403_problem(administrator, units):
    _api_key, raw = api_key_create(actor=administrator, name="Reader", scopes=["agents:read"])
    reader = Client(headers={"Authorization": f"Bearer {raw}"})
    assert reader.get(AGENTS).status_code == 200
    body = _problem(_put(reader, AGENTS, {"agents": [_agent()]}), 403)
    assert "agents:write" in body["detail"]
    assert not Agent.objects.exists()


def test_a_console_session_is_not_an_api_key(administrator_client):
    _problem(administrator_client.get(AGENTS), 401)


def test_the_api_needs_no_csrf_token_and_sets_no_cookie(key, units):
    client = Client(enforce_csrf_checks=True, headers={"X-API-Key": key})
    response = _put(client, AGENTS, {"agents": [_agent()]})
    assert response.status_code == 200
    assert not response.cookies


# --- Reading agents ------------------------------------------------------------------------


@pytest.fixture
def mapped_agents(units):
    for i in range(5):
        team, _ = AgentTeam.objects.get_or_create(business_unit=units[i % 2], name="T1")
        agent = AgentFactory(
            external_id=f"a-{i}",
            name=f"Agent {i}",
            email="",
            business_unit=units[i % 2],
            teams=[team],
        )
        if i < 2:
            user = DirectoryUserFactory(
                graph_id=f"graph-{i}",
                display_name=f"Agent {i}",
                mail="",
                user_principal_name=f"a{i}@x.test",
                proxy_addresses=[],
            )
            AgentMappingFactory(agent=agent, directory_user=user, method="auto", reason="")


def test_agents_are_listed_a_page_at_a_time(api, mapped_agents):
    first = api.get(AGENTS, {"page_size": 2}).json()
    assert (first["count"], first["page"], first["page_size"], first["pages"]) == (5, 1, 2, 3)
    assert [a["external_id"] for a in first["agents"]] == ["a-0", "a-1"]
    last = api.get(AGENTS, {"page_size": 2, "page": 3}).json()
    assert [a["external_id"] for a in last["agents"]] == ["a-4"]
    beyond = api.get(AGENTS, {"page_size": 2, "page": 9}).json()
    assert beyond["agents"] == []


def test_agents_carry_their_mapping(api, mapped_agents):
    agents = {a["external_id"]: a for a in api.get(AGENTS).json()["agents"]}
    mapping = agents["a-0"]["mapping"]
    assert mapping["teams_user_id"] == "graph-0"
    assert mapping["user_principal_name"] == "a0@x.test"
    assert mapping["method"] == "auto"
    assert agents["a-3"]["mapping"] is None
    assert agents["a-3"]["business_unit"] == "support"
    assert agents["a-3"]["teams"] == ["T1"]


def test_agents_are_filtered_by_mapping_and_business_unit(api, mapped_agents):
    mapped = api.get(AGENTS, {"mapped": "true"}).json()
    assert [a["external_id"] for a in mapped["agents"]] == ["a-0", "a-1"]
    unmapped = api.get(AGENTS, {"mapped": "false"}).json()
    assert [a["external_id"] for a in unmapped["agents"]] == ["a-2", "a-3", "a-4"]
    sales = api.get(AGENTS, {"business_unit": "sales"}).json()
    assert [a["external_id"] for a in sales["agents"]] == ["a-0", "a-2", "a-4"]


def test_bad_query_parameters_are_reported_with_their_names(api, mapped_agents):
    response = api.get(AGENTS, {"page": 0, "page_size": 9999, "mapped": "maybe"})
    assert sorted(_paths(response)) == ["mapped", "page", "page_size"]


def test_listing_takes_the_same_queries_for_any_page_size(api, units, django_assert_num_queries):
    for i in range(30):
        agent = Agent.objects.create(external_id=f"a-{i:02}", name="A", business_unit=units[0])
        user = DirectoryUser.objects.create(graph_id=f"g-{i}")
        AgentMapping.objects.create(agent=agent, directory_user=user, method="auto")
    api.get(AGENTS)  # records last use, so both calls below only read
    with django_assert_num_queries(4) as small:
        api.get(AGENTS, {"page_size": 3})
    with django_assert_num_queries(len(small.captured_queries)):
        api.get(AGENTS, {"page_size": 30})


def test_one_agent_is_read_by_external_id(api, mapped_agents):
    response = api.get(f"{AGENTS}/a-1")
    assert response.status_code == 200
    assert response.json()["mapping"]["teams_user_id"] == "graph-1"


def test_an_unknown_agent_is_a_404_problem(api, mapped_agents):
    _problem(api.get(f"{AGENTS}/nobody"), 404)


def test_unknown_api_addresses_are_404_problems(api):
    _problem(api.get("/api/v1/nothing-here"), 404)
    _problem(Client().get("/api/v1/"), 404)


def test_a_wrong_method_is_a_405_problem(api):
    response = api.delete(AGENTS)
    _problem(response, 405)
    assert "GET" in response["Allow"]


# --- Schema and docs -------------------------------------------------------------------------


def test_the_openapi_schema_lists_the_endpoints_and_their_scopes(administrator_client):
    schema = administrator_client.get(reverse("api:openapi-json")).json()
    assert schema["info"]["title"] == "ccbridge contact-center API"
    assert schema["info"]["version"] == "1"
    paths = schema["paths"]
    assert set(paths[AGENTS]) == {"get", "put"}
    assert set(paths[UNITS]) == {"get", "put"}
    assert "get" in paths[f"{AGENTS}/{{external_id}}"]
    assert paths[AGENTS]["put"]["x-required-scope"] == "agents:write"
    assert {"ApiKeyBearer": ["agents:write"]} in paths[AGENTS]["put"]["security"]
    assert PROBLEM in paths[AGENTS]["put"]["responses"]["422"]["content"]
    assert "nested at most 32 levels deep" in schema["info"]["description"]
    assert "`#problem-throttled`" in schema["info"]["description"]


def test_the_schema_and_docs_are_for_signed_in_console_users(db):
    for url in (reverse("api:openapi-json"), reverse("api:openapi-view")):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("console:login"))


def test_the_docs_page_is_swagger_ui_from_static_files_without_inline_script(administrator_client):
    response = administrator_client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "ninja/swagger-ui-bundle.js" in html and "ninja/swagger-ui-init.js" in html
    assert '"url": "/api/v1/openapi.json"' in html
    finder = InlineScriptFinder()
    finder.feed(html)
    assert finder.problems == []
    assert "cdn" not in html.lower()

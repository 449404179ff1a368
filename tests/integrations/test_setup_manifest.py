"""The app manifest: Microsoft Graph's permission ids, the redirect URI, download and copy."""

import json

from django.urls import reverse

from graph.applications import GRAPH_APP_ID, find_service_principal
from integrations.graphlink import app_graph_client
from integrations.setup.manifest import manifest
from tests.integrations.factories import IntegrationAccountFactory

# From Microsoft's permissions reference (learn.microsoft.com/graph/permissions-reference):
# the Identifier of each permission, application ("Role") and delegated ("Scope").
PINNED = {
    ("User.Read.All", "Role"): "df021288-bdef-4463-88db-98f22de89214",
    ("Presence.ReadWrite.All", "Role"): "83cded22-8297-4ff6-a7fa-e97e9545a259",
    ("Chat.ReadWrite.All", "Role"): "294ce7c9-31ba-490a-ad7d-97a7d075e4ed",
    ("ChannelMessage.Read.All", "Role"): "7b2449af-6ccd-4f4d-9f78-e550c193f0d1",
    ("User.ReadWrite.All", "Role"): "741f803b-c850-494e-b5df-cde7c675a1ca",
    ("Application.Read.All", "Role"): "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ("Directory.Read.All", "Role"): "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    ("Policy.Read.All", "Role"): "246dd0d5-5bd0-4def-940b-0421030a5b68",
    ("Chat.ReadWrite", "Scope"): "9ff7295e-131b-4d94-90e1-69fde507ac11",
    ("Chat.ManageDeletion.All", "Scope"): "bb64e6fc-6b6d-4752-aea0-dd922dbba588",
    ("ChatMessage.Send", "Scope"): "116b7235-7cc6-461e-b163-8e55691d839e",
    ("ChannelMessage.Send", "Scope"): "ebf0f66e-9fb1-49e4-a278-222f76911cf4",
    ("Directory.Read.All", "Scope"): "06da0dbc-49e2-44d2-8312-53f166ab848a",
    ("Group.Read.All", "Scope"): "5f8c59db-677d-491f-a6b8-5f174b11ec1d",
    ("Presence.Read.All", "Scope"): "9c7a330d-35b3-4aa1-963d-cb2b9f927841",
    ("Subscription.Read.All", "Scope"): "5f88184c-80bb-4d52-9ff2-757288b2e9b7",
    ("User.Read.All", "Scope"): "a154be20-db9c-4678-8ab7-66f6cc099a59",
    ("User.Read", "Scope"): "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
}


def test_the_manifest_asks_for_every_permission_by_microsofts_ids():
    body = manifest(redirect_uri="https://ccbridge.contoso.example/signin/")
    assert body["signInAudience"] == "AzureADMyOrg"
    assert body["web"]["redirectUris"] == ["https://ccbridge.contoso.example/signin/"]
    [graph] = body["requiredResourceAccess"]
    assert graph["resourceAppId"] == "00000003-0000-0000-c000-000000000000"
    assert sorted((a["type"], a["id"]) for a in graph["resourceAccess"]) == sorted(
        (kind, guid) for (_name, kind), guid in PINNED.items()
    )


def test_the_simulators_graph_service_principal_uses_the_same_ids(db, sim_tenant, graph_settings):
    client, _tokens = app_graph_client(IntegrationAccountFactory.for_tenant(sim_tenant))
    graph_sp = find_service_principal(client, GRAPH_APP_ID)
    for (name, kind), guid in PINNED.items():
        offered = graph_sp.app_roles if kind == "Role" else graph_sp.scopes
        assert offered.get(guid) == name, (name, kind)


def test_the_page_offers_it_to_copy_and_download(supervisor_client, settings):
    settings.CCBRIDGE_PUBLIC_URL = "https://ccbridge.contoso.example"
    page = supervisor_client.get(reverse("integrations:setup")).content.decode()
    assert 'data-copy="#app-manifest"' in page
    assert "https://ccbridge.contoso.example/signin/" in page

    response = supervisor_client.get(reverse("integrations:setup_manifest"))
    assert response["Content-Disposition"] == 'attachment; filename="ccbridge-app-manifest.json"'
    downloaded = json.loads(response.content)
    assert downloaded == manifest(redirect_uri="https://ccbridge.contoso.example/signin/")

"""The app manifest an administrator pastes into the Azure app registration's
manifest editor to add every permission and the redirect URI in one step. Pure.

Permission ids are Microsoft Graph's, from Microsoft's permissions reference
(https://learn.microsoft.com/graph/permissions-reference): an app role id for an
application permission ("Role"), a scope id for a delegated one ("Scope").
tests/integrations/test_setup_manifest.py pins them.
"""

from __future__ import annotations

from graph.applications import GRAPH_APP_ID, SINGLE_TENANT
from integrations.setup.permissions import WANTED

APPLICATION_IDS = {
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "ChannelMessage.Read.All": "7b2449af-6ccd-4f4d-9f78-e550c193f0d1",
    "Chat.ReadWrite.All": "294ce7c9-31ba-490a-ad7d-97a7d075e4ed",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Policy.Read.All": "246dd0d5-5bd0-4def-940b-0421030a5b68",
    "Presence.ReadWrite.All": "83cded22-8297-4ff6-a7fa-e97e9545a259",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
}
DELEGATED_IDS = {
    "ChannelMessage.Send": "ebf0f66e-9fb1-49e4-a278-222f76911cf4",
    "Chat.ManageDeletion.All": "bb64e6fc-6b6d-4752-aea0-dd922dbba588",
    "Chat.ReadWrite": "9ff7295e-131b-4d94-90e1-69fde507ac11",
    "ChatMessage.Send": "116b7235-7cc6-461e-b163-8e55691d839e",
    "Directory.Read.All": "06da0dbc-49e2-44d2-8312-53f166ab848a",
    "Group.Read.All": "5f8c59db-677d-491f-a6b8-5f174b11ec1d",
    "Presence.Read.All": "9c7a330d-35b3-4aa1-963d-cb2b9f927841",
    "Subscription.Read.All": "5f88184c-80bb-4d52-9ff2-757288b2e9b7",
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    "User.Read.All": "a154be20-db9c-4678-8ab7-66f6cc099a59",
}
# What the setup page itself reads (the registration, consent, security defaults,
# directory roles), on top of the guides' lists; User.Read lets the accounts sign in.
SETUP_READS = ("Application.Read.All", "Directory.Read.All", "Policy.Read.All")


def manifest(*, redirect_uri: str) -> dict:
    """The manifest properties to paste: single tenant, the redirect URI, and every
    permission of the guides' lists plus the setup page's reads."""
    application = [w.name for w in WANTED if w.application] + list(SETUP_READS)
    delegated = [w.name for w in WANTED if not w.application] + ["User.Read"]
    access = [{"id": APPLICATION_IDS[n], "type": "Role"} for n in dict.fromkeys(application)]
    access += [{"id": DELEGATED_IDS[n], "type": "Scope"} for n in dict.fromkeys(delegated)]
    return {
        "signInAudience": SINGLE_TENANT,
        "web": {"redirectUris": [redirect_uri]},
        "requiredResourceAccess": [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": access}],
    }

"""API keys and the API docs in a real browser: the key is shown once, works, and is revoked."""

import json
import urllib.error
import urllib.request

from playwright.sync_api import Page, expect

from tests.browser.test_login import sign_in


def _get_agents(base_url: str, key: str) -> int:
    url = f"{base_url}/api/v1/agents"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_admin_creates_uses_and_revokes_a_key(page: Page, live_server, administrator):
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text))
    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.get_by_role("link", name="Create API key").click()

    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("Choose at least one scope.")).to_be_visible()

    page.get_by_label("Name").fill("Genesys production")
    page.get_by_label("agents:read").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("This is the only time the key is shown.")).to_be_visible()
    key = page.get_by_label("API key").input_value()
    assert key.startswith("ccb_")
    assert _get_agents(live_server.url, key) == 200

    page.get_by_role("link", name="I have copied it").click()
    expect(page.get_by_role("cell", name="Genesys production")).to_be_visible()
    assert key not in page.content()

    page.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("Revoked Genesys production.")).to_be_visible()
    assert _get_agents(live_server.url, key) == 401

    page.get_by_role("link", name="API documentation").click()
    expect(page.locator(".opblock-put").filter(has_text="/api/v1/agents").first).to_be_visible()
    assert not [v for v in violations if "Content Security Policy" in v]

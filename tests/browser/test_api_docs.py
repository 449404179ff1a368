"""The API docs page: ninja's Swagger UI, under the console's strict CSP."""

from playwright.sync_api import Page, expect

from tests.browser.test_login import sign_in


def test_the_docs_page_lists_the_operations_with_no_csp_violation(
    page: Page, live_server, administrator
):
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    sign_in(page, live_server.url, "ada")

    page.goto(f"{live_server.url}/api/v1/docs")

    expect(page.locator(".information-container")).to_contain_text("ccbridge contact-center API")
    operations = page.locator(".opblock")
    expect(operations.filter(has_text="/api/v1/agents").first).to_be_visible()
    expect(page.locator(".opblock-put").filter(has_text="/api/v1/agents").first).to_be_visible()
    expect(page.get_by_text("#problem-throttled")).to_be_visible()
    assert operations.count() >= 5
    assert not [m for m in messages if "Content Security Policy" in m], messages

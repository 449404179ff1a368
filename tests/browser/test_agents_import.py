"""Importing agents from a CSV file in a real browser: a large file saved partly in
Windows-1252 is refused naming its line, then imported once its encoding is chosen."""

from playwright.sync_api import Page, expect

from accounts.csvimport import MAX_ROWS
from accounts.models import Agent, AgentImportUpload
from tests.accounts.factories import BusinessUnitFactory
from tests.browser.test_login import sign_in

HEADER = "external_id,name,email,business_unit,teams,teams_enabled"


def _big_mixed_file() -> bytes:
    """About 3 MB, UTF-8 but for line 3, which a Windows-1252 editor saved."""
    rows = [
        f"ACD-{n:05d},Agent {n:05d} {'Lastname-' * 10},agent{n:05d}@cc.example,care,Inbound,yes"
        for n in range(3, MAX_ROWS + 1)
    ]
    return (
        f"{HEADER}\nACD-00001,José Núñez,jose@cc.example,care,Inbound,yes\n".encode()
        + "ACD-00002,Zoë Müller,zoe@cc.example,care,Inbound,yes\n".encode("cp1252")
        + "\n".join(rows).encode()
    )


def test_an_administrator_imports_a_large_file_after_choosing_its_encoding(
    page: Page, live_server, administrator
):
    BusinessUnitFactory(code="care", name="Customer Care")
    data = _big_mixed_file()
    assert len(data) > 2.9e6, "past Django's 2.5 MB limit for form fields"
    file = {"name": "agents.csv", "mimeType": "text/csv", "buffer": data}

    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mapping").click()
    page.get_by_role("link", name="Import agents (CSV)").click()
    page.get_by_label("CSV file").set_input_files(file)
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_text("The file is not valid UTF-8 on line 3.")).to_be_visible()
    expect(page.get_by_role("button", name="Import", exact=False)).to_have_count(0)

    page.get_by_label("CSV file").set_input_files(file)
    page.get_by_label("Encoding").select_option(
        label="UTF-8, with Windows-1252 on the lines that are not UTF-8"
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text(f"{MAX_ROWS} agents are ready to import")).to_be_visible()
    expect(page.get_by_role("cell", name="Zoë Müller")).to_be_visible()

    page.get_by_role("button", name=f"Import {MAX_ROWS} agents").click()

    expect(page.get_by_text(f"Imported agents: {MAX_ROWS} created")).to_be_visible(timeout=60_000)
    assert Agent.objects.count() == MAX_ROWS
    assert Agent.objects.get(external_id="ACD-00001").name == "José Núñez"
    assert Agent.objects.get(external_id="ACD-00002").name == "Zoë Müller"
    assert not AgentImportUpload.objects.exists()

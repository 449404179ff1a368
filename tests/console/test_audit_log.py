"""The audit log page: browse and filter who did what."""

from django.urls import reverse

from integrations.audit import audit_record


def test_entries_are_listed_newest_first_and_filtered(administrator_client, administrator):
    audit_record(actor=administrator, action="account.update", summary="Changed the name")
    audit_record(actor=None, action="directory.sync", summary="Synced 12 users")

    page = administrator_client.get(reverse("console:audit_log")).content.decode()
    assert page.index("Synced 12 users") < page.index("Changed the name")

    filtered = administrator_client.get(reverse("console:audit_log"), {"action": "account.update"})
    assert "Changed the name" in filtered.content.decode()
    assert "Synced 12 users" not in filtered.content.decode()

    by_actor = administrator_client.get(reverse("console:audit_log"), {"actor": "system"})
    assert "Synced 12 users" in by_actor.content.decode()
    assert "Changed the name" not in by_actor.content.decode()


def test_htmx_filter_returns_only_the_table(administrator_client, administrator):
    audit_record(actor=administrator, action="x.y", summary="Something happened")
    response = administrator_client.get(
        reverse("console:audit_log"), {"q": "something"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="audit">')
    assert "Something happened" in body


def test_secret_like_fields_are_never_stored(db, administrator):
    entry = audit_record(
        actor=administrator,
        action="account.update",
        summary="Replaced the client secret",
        changes={"client_secret": "s3cr3t-value", "name": ["a", "b"]},
    )
    entry.refresh_from_db()
    assert entry.changes == {"client_secret": "(changed)", "name": ["a", "b"]}

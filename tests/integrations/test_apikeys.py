"""API keys: created and shown once, stored as a hash, authenticated, revoked; admins only."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.apikeys import api_key_authenticate, api_key_create, api_key_revoke
from integrations.models import ApiKey, AuditEntry
from tests.console.test_security import InlineScriptFinder

LIST_URL = reverse("integrations:apikey_list")
CREATE_URL = reverse("integrations:apikey_create")


@pytest.fixture
def make_key(administrator):
    def make(name="ACD production", scopes=("agents:write", "agents:read")):
        return api_key_create(actor=administrator, name=name, scopes=scopes)

    return make


def _no_inline_script(html: str) -> list[str]:
    finder = InlineScriptFinder()
    finder.feed(html)
    return finder.problems


def test_create_shows_the_key_once_and_stores_only_its_hash(administrator_client):
    response = administrator_client.post(
        CREATE_URL, {"name": "ACD production", "scopes": ["agents:write", "agents:read"]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get()
    raw = response.context["raw"]
    assert raw.startswith(f"{key.prefix}_")
    assert raw in response.content.decode()
    assert key.scopes == ["agents:read", "agents:write"]
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in json.dumps(list(ApiKey.objects.values()), default=str)
    assert raw not in json.dumps(list(AuditEntry.objects.values()), default=str)
    # Never again: not on the list, not on the revoke page.
    for url in (LIST_URL, reverse("integrations:apikey_revoke", args=[key.pk])):
        page = administrator_client.get(url).content.decode()
        assert raw not in page
        assert raw[len(key.prefix) :] not in page
    assert f"{key.prefix}…" in administrator_client.get(LIST_URL).content.decode()


def test_create_is_audited_without_the_key(administrator_client, administrator):
    response = administrator_client.post(CREATE_URL, {"name": "ACD", "scopes": ["agents:read"]})
    entry = AuditEntry.objects.get(action="apikey.create")
    assert entry.actor == administrator
    assert entry.target_id == str(ApiKey.objects.get().pk)
    assert entry.changes == {
        "name": "ACD",
        "prefix": ApiKey.objects.get().prefix,
        "scopes": ["agents:read"],
    }
    assert response.context["raw"] not in entry.summary


def test_create_requires_a_name_and_a_scope(administrator_client):
    response = administrator_client.post(CREATE_URL, {"name": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "name": ["This field is required."],
        "scopes": ["Choose at least one scope."],
    }
    assert "Choose at least one scope." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_create_refuses_unknown_scopes(administrator_client):
    response = administrator_client.post(CREATE_URL, {"name": "ACD", "scopes": ["admin:all"]})
    assert "scopes" in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_keys_are_distinct_and_high_entropy(make_key):
    raws = {make_key(name=f"key {i}")[1] for i in range(5)}
    assert len(raws) == 5
    for raw in raws:
        assert raw.startswith("ccb_")
        assert len(raw.split("_", 2)[2]) >= 43  # 256 random bits


def test_authenticate_accepts_the_key_it_created(make_key):
    key, raw = make_key()
    assert api_key_authenticate(raw) == key
    assert api_key_authenticate(f"  {raw}\n") == key


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),
        lambda raw: raw[:-4],
        lambda raw: raw.upper(),
        lambda raw: "ccb_00000000_" + raw.split("_", 2)[2],
        lambda raw: "",
        lambda raw: "not-a-key",
        lambda raw: raw + "x" * 200,
    ],
    ids=["changed", "truncated", "uppercased", "other-prefix", "empty", "garbage", "too-long"],
)
def test_authenticate_refuses_wrong_keys(make_key, mangle):
    _key, raw = make_key()
    assert api_key_authenticate(mangle(raw)) is None


def test_authenticate_refuses_a_revoked_key(make_key, administrator):
    key, raw = make_key()
    assert api_key_revoke(actor=administrator, key=key) is True
    assert api_key_authenticate(raw) is None


def test_authenticate_records_last_use_at_most_once_a_minute(make_key):
    key, raw = make_key()
    assert key.last_used_at is None
    api_key_authenticate(raw)
    key.refresh_from_db()
    first_use = key.last_used_at
    assert first_use is not None

    api_key_authenticate(raw)
    key.refresh_from_db()
    assert key.last_used_at == first_use

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first_use - timedelta(minutes=2))
    api_key_authenticate(raw)
    key.refresh_from_db()
    assert key.last_used_at > first_use - timedelta(seconds=1)


def test_authenticating_a_recently_used_key_does_not_write(make_key, django_assert_num_queries):
    _key, raw = make_key()
    api_key_authenticate(raw)
    with django_assert_num_queries(1):
        api_key_authenticate(raw)


def test_revoke_asks_for_confirmation_then_revokes_and_audits(
    administrator_client, administrator, make_key
):
    key, raw = make_key()
    url = reverse("integrations:apikey_revoke", args=[key.pk])
    page = administrator_client.get(url)
    assert page.status_code == 200
    assert "Revoke key" in page.content.decode()
    key.refresh_from_db()
    assert key.is_active

    response = administrator_client.post(url)
    assert response.status_code == 302
    key.refresh_from_db()
    assert not key.is_active
    assert key.revoked_by == administrator
    entry = AuditEntry.objects.get(action="apikey.revoke")
    assert entry.actor == administrator
    assert entry.target_id == str(key.pk)
    assert raw not in json.dumps(entry.changes) + entry.summary
    assert "Revoked" in administrator_client.get(LIST_URL).content.decode()


def test_revoking_twice_changes_nothing(administrator_client, make_key):
    key, _raw = make_key()
    url = reverse("integrations:apikey_revoke", args=[key.pk])
    administrator_client.post(url)
    revoked_at = ApiKey.objects.get().revoked_at
    administrator_client.post(url)
    assert ApiKey.objects.get().revoked_at == revoked_at
    assert AuditEntry.objects.filter(action="apikey.revoke").count() == 1


def test_list_shows_name_prefix_scopes_creator_and_status(administrator_client, make_key):
    key, _raw = make_key(name="Genesys", scopes=["agents:read"])
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    page = administrator_client.get(LIST_URL).content.decode()
    assert "Genesys" in page
    assert f"{key.prefix}…" in page
    assert "agents:read" in page
    assert "ada" in page
    assert "Active" in page
    assert "never" not in page


def test_the_navigation_shows_api_keys_to_administrators_only(
    administrator_client, supervisor_client
):
    dashboard = reverse("console:dashboard")
    assert LIST_URL in administrator_client.get(dashboard).content.decode()
    assert LIST_URL not in supervisor_client.get(dashboard).content.decode()


def test_supervisors_get_403_on_every_api_key_page(supervisor_client, make_key):
    key, _raw = make_key()
    revoke_url = reverse("integrations:apikey_revoke", args=[key.pk])
    assert supervisor_client.get(LIST_URL).status_code == 403
    assert supervisor_client.get(CREATE_URL).status_code == 403
    created = supervisor_client.post(CREATE_URL, {"name": "x", "scopes": ["agents:read"]})
    assert created.status_code == 403
    assert supervisor_client.get(revoke_url).status_code == 403
    assert supervisor_client.post(revoke_url).status_code == 403
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get().is_active


def test_api_key_pages_have_no_inline_script(administrator_client, make_key):
    key, _raw = make_key()
    created = administrator_client.post(CREATE_URL, {"name": "b", "scopes": ["agents:read"]})
    pages = [
        administrator_client.get(LIST_URL),
        administrator_client.get(CREATE_URL),
        administrator_client.get(reverse("integrations:apikey_revoke", args=[key.pk])),
        created,
    ]
    for page in pages:
        assert page.status_code == 200
        assert _no_inline_script(page.content.decode()) == []

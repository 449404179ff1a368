"""Every console form, POSTed junk by an Administrator: the page answers with its errors
(or the view's own redirect and message), never a 500, and no row is added or removed.

Each target names the fields its form reads and one *anchor* field that always
gets a value the form must refuse, so every POST is invalid as a whole and the
database must come out of it with the same row counts. The other fields get
junk: wrong types, huge strings, NUL bytes, unicode digits, negative and huge
numbers, ids of objects that do not exist, several values, or nothing at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from console.roles import ROLES
from integrations.models import CHAT_MESSAGE_DEFAULTS, ApiKey, PhoneType
from presence.models import PresenceRule
from presence.rules.services import reason_codes_ensure
from tests.accounts.factories import (
    AgentFactory,
    AgentTeamFactory,
    BusinessUnitFactory,
    DirectoryUserFactory,
)
from tests.factories import SupervisorFactory
from tests.fuzz.conftest import row_counts
from tests.plugins.hypothesis_profiles import examples
from tests.presence.factories import PresenceRuleFactory, SystemUserFactory
from tests.presence.support_webhook import account_create

MISSING = object()
NO_SUCH_ID = 2**31 - 7

# The signed-in client and the objects below are shared by every example: each example
# compares row counts around its own POST, and every POST is invalid (see the anchors).
FUZZ = settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(st.characters(codec="utf-8"), max_size=40)
odd_values = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "x" * 20_000,
        "😀" * 100,
        "²",  # a digit to str.isdigit(), not to int()
        "\uff19",  # a full-width nine
        "-1",
        "0",
        "2147483648",
        "9223372036854775808",
        "99999999999999999999999999",
        "-99999999999",
        "1e309",
        "NaN",
        "null",
        "[]",
        "{}",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        str(NO_SUCH_ID),
        str(uuid.uuid4()),
        "2026-02-30T25:61",
    ]
)
scalar_junk = st.one_of(text, odd_values, st.integers(-(2**70), 2**70).map(str))
junk = st.one_of(st.just(MISSING), scalar_junk, st.lists(scalar_junk, min_size=2, max_size=3))


def refused(allowed: list[str] | tuple[str, ...]) -> st.SearchStrategy:
    """Junk that is none of the allowed values (one value, or several, or none)."""
    single = scalar_junk.filter(lambda value: value.strip() not in allowed)
    return st.one_of(st.just(MISSING), single, st.lists(single, min_size=1, max_size=3))


GUID = re.compile(r"^\s*[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}\s*$")
not_a_guid = st.one_of(st.just(MISSING), scalar_junk.filter(lambda v: not GUID.match(v)))
blank = st.sampled_from([MISSING, "", "   "])
not_a_slug = st.one_of(
    blank, scalar_junk.filter(lambda v: not re.fullmatch(r"[-a-zA-Z0-9_]+", v.strip()))
)
not_a_url = st.one_of(
    blank,
    st.sampled_from(["http://", "ftp://example.com", "javascript:alert(1)", "x" * 600, "a b"]),
    scalar_junk.filter(lambda v: not re.search(r"[.\[:]|localhost", v, re.IGNORECASE)),
)


def _as_int(value: str) -> int | None:
    """What Django's IntegerField makes of the text (it takes "5.0" and unicode digits)."""
    try:
        return int(re.sub(r"\.0*$", "", value.strip()))
    except ValueError:
        return None


def integers_outside(low: int, high: int) -> st.SearchStrategy:
    def outside(value: str) -> bool:
        number = _as_int(value)
        return number is None or not low <= number <= high

    return st.one_of(st.just(MISSING), scalar_junk.filter(outside))


@dataclass(frozen=True)
class Target:
    name: str
    url: Callable[[dict[str, Any]], str]
    fields: dict[str, st.SearchStrategy] = field(default_factory=dict)
    anchor: tuple[str, st.SearchStrategy] | None = None
    fixed: dict[str, str] = field(default_factory=dict)


ACCOUNT_FIELDS = {
    name: junk
    for name in [
        "name",
        "object_id",
        "tenant",
        "client_secret",
        "secret_expires_at",
        "licensing_mode",
        *CHAT_MESSAGE_DEFAULTS,
    ]
}
USER_FIELDS = {name: junk for name in ["username", "first_name", "last_name", "email", "is_active"]}
RULE_FIELDS = {
    "name": junk,
    "pub_key": junk,
    "sub_key": junk,
    "pub-1-acd_state": junk,
    "pub-1-reason_code": junk,
    "pub-1-action": junk,
    "pub-1-session_minutes": junk,
    "sub-2-availability": junk,
    "sub-2-activity": junk,
    "sub-2-acd_state": junk,
    "sub-2-reason_code": junk,
}

TARGETS = [
    Target(
        "account",
        lambda w: reverse("integrations:account"),
        ACCOUNT_FIELDS,
        ("client_id", not_a_guid),
    ),
    Target(
        "phone types",
        lambda w: reverse("integrations:phone_types"),
        {"shown": junk, "move": junk},
        ("order", refused(PhoneType.values)),
    ),
    Target(
        "message reset (no such message)",
        lambda w: reverse("integrations:message_reset", args=["name"]),
    ),
    Target(
        "account delete (wrong name)",
        lambda w: reverse("integrations:account_delete"),
        {},
        ("confirm_name", refused(["Contoso Teams"])),
    ),
    Target(
        "api key",
        lambda w: reverse("integrations:apikey_create"),
        {"name": junk},
        ("scopes", refused(ApiKey.Scope.values)),
    ),
    Target("api key revoke (no such key)", lambda w: f"/api-keys/{NO_SUCH_ID}/revoke/"),
    Target(
        "user create",
        lambda w: reverse("console:user_create"),
        {**USER_FIELDS, "password": junk},
        ("role", refused(ROLES)),
    ),
    Target(
        "user edit",
        lambda w: reverse("console:user_edit", args=[w["user"]]),
        {**USER_FIELDS, "password": junk},
        ("role", refused(ROLES)),
    ),
    Target("user edit (no such user)", lambda w: f"/users/{NO_SUCH_ID}/", USER_FIELDS),
    Target(
        "rule create",
        lambda w: f"{reverse('presence:rule_create')}?business_unit={w['unit']}",
        {**RULE_FIELDS, "op": junk},
        ("direction", refused(PresenceRule.Direction.values)),
    ),
    Target(
        "rule create and save",
        lambda w: f"{reverse('presence:rule_create')}?business_unit={w['unit']}",
        RULE_FIELDS,
        ("direction", refused(PresenceRule.Direction.values)),
        {"op": "save"},
    ),
    Target(
        "rule edit and save",
        lambda w: reverse("presence:rule_edit", args=[w["rule"]]),
        RULE_FIELDS,
        ("direction", refused(PresenceRule.Direction.values)),
        {"op": "save"},
    ),
    Target(
        "rule create (junk unit)",
        lambda w: f"{reverse('presence:rule_create')}?business_unit=%C2%B2",
        RULE_FIELDS,
    ),
    Target("rule delete (no such rule)", lambda w: f"/rules/{NO_SUCH_ID}/delete/"),
    Target(
        "reason code add",
        lambda w: f"{reverse('presence:reason_codes')}?business_unit={w['unit']}",
        {"new-name": junk},
        ("new-code", not_a_slug),
        {"op": "add"},
    ),
    Target(
        "reason code rename",
        lambda w: f"{reverse('presence:reason_codes')}?business_unit={w['unit']}",
        {"name": junk, "op": refused(["add", "standard"])},
        ("code", not_a_slug),
    ),
    Target(
        "rule assign teams",
        lambda w: reverse("presence:rule_assign", args=[w["rule"]]),
        {
            "op": junk,
            "q_available": junk,
            "q_assigned": junk,
            "pick_available": junk,
            "pick_assigned": junk,
            "priority-1": junk,
        },
        ("assigned_ids", st.sampled_from([f"{NO_SUCH_ID}", f"{NO_SUCH_ID},²,-1,x", "²", ""])),
    ),
    Target(
        "rule assign agents",
        lambda w: reverse("presence:rule_assign_users", args=[w["rule"]]),
        {"op": junk, "q_available": junk, "pick_available": junk, "pick_assigned": junk},
        ("assigned_ids", st.sampled_from([f"{NO_SUCH_ID}", f"{NO_SUCH_ID},²,-1,x", "²", ""])),
    ),
    Target(
        "agent rule",
        lambda w: reverse("presence:agent_rule", args=[w["agent"]]),
        {"source": st.sampled_from(["user", MISSING, "x"])},
        ("rule", st.sampled_from([MISSING, "", str(NO_SUCH_ID), "²", "-1", "x", "9" * 20])),
    ),
    Target(
        "system user add",
        lambda w: reverse("sync:system_users"),
        {"username": junk},
        ("password", blank),
    ),
    Target(
        "system users create in Azure",
        lambda w: reverse("sync:system_users_create"),
        {},
        ("count", integers_outside(1, 50)),
    ),
    Target(
        "system user password",
        lambda w: reverse("sync:system_user_password", args=[w["system_user"]]),
        {},
        ("password", blank),
    ),
    Target("system user toggle (no such user)", lambda w: f"/system-users/{NO_SUCH_ID}/enabled/"),
    Target("system user remove (no such user)", lambda w: f"/system-users/{NO_SUCH_ID}/remove/"),
    Target(
        "ACD webhook",
        lambda w: reverse("sync:acd_settings"),
        {"secret": junk, "enabled": junk},
        ("url", not_a_url),
    ),
    Target(
        "ACD replay (no such delivery)", lambda w: f"/sync/acd/dead-letters/{NO_SUCH_ID}/replay/"
    ),
    Target(
        "directory interval",
        lambda w: reverse("accounts:directory_interval"),
        {},
        ("interval_minutes", integers_outside(5, 7 * 24 * 60).filter(lambda v: v != "0")),
    ),
    Target(
        "mapping bulk",
        lambda w: reverse("accounts:mapping_bulk"),
        {"agent": junk, "next": junk},
        ("action", refused(["enable", "disable", "reenable_all"])),
    ),
    Target(
        "automap",
        lambda w: reverse("accounts:automap", args=[w["unit"]]),
        {"include": junk, "select": junk},
        ("step", refused(["apply"])),
    ),
    Target(
        "remap",
        lambda w: reverse("accounts:remap", args=[w["agent"]]),
        {"confirm": junk},
        ("user", refused([])),
        {"action": "map"},
    ),
]


@pytest.fixture
def world(admin_client) -> dict[str, int]:
    """One of everything the forms point at."""
    account_create()
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    team = AgentTeamFactory(business_unit=unit, name="Support")
    agent = AgentFactory(business_unit=unit)
    agent.teams.add(team)
    DirectoryUserFactory()
    rule = PresenceRuleFactory(business_unit=unit)
    system_user = SystemUserFactory(username="presence1@contoso.example")
    # Settings pages create their one row on first view; a POST is judged after that.
    for page in ("sync:acd_settings", "accounts:directory"):
        assert admin_client.get(reverse(page)).status_code == 200
    return {
        "unit": unit.pk,
        "agent": agent.pk,
        "rule": rule.pk,
        "system_user": system_user.pk,
        "user": SupervisorFactory(username="sam").pk,
    }


def form_data(target: Target, values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not MISSING}


ALLOWED = {200, 302, 400, 404, 409}


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
@FUZZ
@given(data=st.data())
def test_junk_never_fails_a_form_and_stores_nothing(admin_client, world, target, data):
    values = {name: data.draw(strategy, label=name) for name, strategy in target.fields.items()}
    if target.anchor is not None:
        name, strategy = target.anchor
        values[name] = data.draw(strategy, label=name)
    values.update(target.fixed)
    htmx = data.draw(st.booleans(), label="htmx")
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    before = row_counts()
    response = admin_client.post(target.url(world), form_data(target, values), **headers)
    assert response.status_code in ALLOWED, (response.status_code, values)
    assert row_counts() == before, values


@pytest.mark.parametrize(
    "path",
    ["/mapping/bulk/", "/mapping/automap/{unit}/"],
)
@FUZZ
@given(ids=st.lists(st.one_of(odd_values, st.integers(-(2**70), 2**70).map(str)), max_size=4))
@example(ids=["²"])
@example(ids=["9223372036854775808"])
def test_agent_id_lists_of_junk_are_harmless(admin_client, world, path, ids):
    before = row_counts()
    response = admin_client.post(
        path.format(unit=world["unit"]), {"agent": ids, "include": ids, "action": "disable"}
    )
    assert response.status_code in ALLOWED
    assert row_counts() == before


# --- regressions found by the fuzzer, kept as examples ---------------------------------------


@FUZZ
@given(target=st.one_of(text, odd_values))
@example(target="0")
@example(target=":")
@example(target="//evil.example/")
def test_the_bulk_action_goes_back_only_to_a_page_of_ours(admin_client, world, target):
    response = admin_client.post(reverse("accounts:mapping_bulk"), {"next": target})
    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith("//")


@FUZZ
@given(name=st.one_of(text, odd_values))
@example(name="\x00")
@example(name="Rule\x00")
def test_a_rule_name_of_junk_is_refused_with_the_editor(admin_client, world, name):
    before = row_counts()
    response = admin_client.post(
        reverse("presence:rule_edit", args=[world["rule"]]),
        {"name": name, "direction": "sideways", "op": "save"},
    )
    assert response.status_code == 200
    assert row_counts() == before


SEARCHES = [
    ("accounts:mapping", [], ["q", "status", "business_unit"]),
    ("accounts:directory", [], ["q", "status"]),
    ("accounts:remap", ["agent"], ["q"]),
    ("console:audit_log", [], ["q", "action", "actor", "page"]),
    ("console:job_list", [], ["page"]),
    ("sync:board", [], ["q", "business_unit", "page"]),
    ("chat:conferences", [], ["q", "state", "live", "page"]),
    ("sync:acd_dead_letters", [], ["page"]),
    ("presence:rule_list", [], ["business_unit"]),
    ("presence:agent_rule", ["agent"], ["acd_state", "reason_code", "availability", "activity"]),
]


@pytest.mark.parametrize(
    ("view", "args", "params"), SEARCHES, ids=[view for view, _args, _params in SEARCHES]
)
@FUZZ
@given(values=st.lists(st.one_of(text, odd_values), min_size=4, max_size=4))
@example(values=["\x00", "\x00", "\x00", "\x00"])
@example(values=["²", "-1", "9" * 30, "x" * 20_000])
def test_search_and_filter_boxes_take_junk(admin_client, world, view, args, params, values):
    before = row_counts()
    url = reverse(view, args=[world[name] for name in args])
    response = admin_client.get(url, dict(zip(params, values, strict=False)))
    assert response.status_code in (200, 404), response.status_code
    assert row_counts() == before


@FUZZ
@given(graph_id=st.one_of(text, odd_values))
@example(graph_id="\x00")
def test_remapping_to_a_user_that_does_not_exist_maps_nothing(admin_client, world, graph_id):
    before = row_counts()
    response = admin_client.post(
        reverse("accounts:remap", args=[world["agent"]]), {"user": graph_id, "confirm": "yes"}
    )
    assert response.status_code == 302
    assert row_counts() == before

"""Enter in a form with several submit buttons does that form's main action.

A browser submits a form on Enter by clicking its first submit button, and
Chromium does so from a checkbox as well as from a text field. Each case
opens a form that has more than one submit button, presses Enter where a
person would be typing, and checks what they then see.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import AgentMapping, AgentTeam
from integrations.models import IntegrationAccount
from presence.models import PresenceRule, ReasonCode, TeamRuleAssignment
from presence.rules.services import reason_codes_ensure
from tests.accounts.factories import (
    AgentFactory,
    AgentTeamFactory,
    BusinessUnitFactory,
    DirectoryUserFactory,
)
from tests.browser.test_login import sign_in
from tests.integrations.factories import IntegrationAccountFactory
from tests.presence.factories import PresenceRuleFactory


@dataclass(frozen=True)
class Case:
    setup: Callable[[], str]  # builds the data, returns the page's path
    press_enter: Callable[[Page], None]  # edits like a person, then presses Enter
    observe: Callable[[Page], None]  # what the person sees afterwards


def _account() -> IntegrationAccount:
    return IntegrationAccountFactory(msg_party_joined="has joined the chat")


def _account_setup() -> str:
    _account()
    return reverse("integrations:account")


def _account_enter(page: Page) -> None:
    page.get_by_label("Name").fill("Contoso Teams (EU)")
    page.get_by_role("textbox", name="Party left").fill("has left the chat")
    page.get_by_role("textbox", name="Party left").press("Enter")


def _account_observe(page: Page) -> None:
    expect(page.get_by_text("Saved the Teams integration account.")).to_be_visible()
    account = IntegrationAccount.objects.get()
    assert account.name == "Contoso Teams (EU)"
    assert account.msg_party_left == "has left the chat"
    assert account.msg_party_joined == "has joined the chat"


def _phone_types_enter(page: Page) -> None:
    # Space toggles Fax (saved at once); Enter on the same box must not move any row.
    fax = page.locator('#phone-types input[name="shown"][value="fax"]')
    fax.press(" ")
    expect(page.locator('#phone-types li[data-value="fax"]')).to_have_class(
        "sortable-item is-hidden"
    )
    with page.expect_response(lambda r: r.url.endswith(reverse("integrations:phone_types"))):
        page.locator('#phone-types input[name="shown"][value="business"]').press("Enter")


def _phone_types_observe(page: Page) -> None:
    rows = page.locator("#phone-types li")
    expect(rows.first).to_have_attribute("data-value", "business")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.value)") == [
        "business",
        "mobile",
        "fax",
    ]
    assert IntegrationAccount.objects.get().phone_types == ["business", "mobile"]


def _automap_setup() -> str:
    unit = BusinessUnitFactory(name="Voice", code="voice")
    for n in (1, 2):
        user = DirectoryUserFactory(display_name=f"Person {n}", mail=f"p{n}@contoso.example")
        AgentFactory(business_unit=unit, name=f"Agent {n}", email=user.mail)
    return reverse("accounts:automap", args=[unit.pk])


def _automap_enter(page: Page) -> None:
    include = page.get_by_role("checkbox", name="Include Agent 1")
    include.uncheck()
    include.press("Enter")


def _automap_observe(page: Page) -> None:
    expect(page.get_by_role("heading", name="Map 1 agents in Voice?")).to_be_visible()
    assert not AgentMapping.objects.exists()


def _mapping_setup() -> str:
    AgentFactory(name="Agent Off", teams_enabled=False)
    return reverse("accounts:mapping")


def _mapping_enter(page: Page) -> None:
    select = page.get_by_role("checkbox", name="Select Agent Off")
    select.check()
    select.press("Enter")


def _mapping_observe(page: Page) -> None:
    expect(page.get_by_text("Teams integration enabled for 1 agents.")).to_be_visible()


def _reason_codes_setup() -> str:
    unit = BusinessUnitFactory(name="Voice", code="voice")
    return f"{reverse('presence:reason_codes')}?business_unit={unit.pk}"


def _reason_codes_enter(page: Page) -> None:
    page.get_by_role("textbox", name="Code", exact=True).fill("coaching")
    name = page.get_by_role("textbox", name="Name", exact=True)
    name.fill("Coaching")
    name.press("Enter")


def _reason_codes_observe(page: Page) -> None:
    expect(page.get_by_role("textbox", name="Name of coaching")).to_have_value("Coaching")
    assert ReasonCode.objects.filter(code="coaching").exists()
    assert not ReasonCode.objects.filter(code="lunch").exists()


def _rule_editor_setup() -> str:
    rule = PresenceRuleFactory(name="Voice agents")
    reason_codes_ensure(rule.business_unit)
    return reverse("presence:rule_edit", args=[rule.pk])


def _rule_editor_enter(page: Page) -> None:
    page.get_by_label("Name").fill("Voice agents (day)")
    page.get_by_label("Name").press("Enter")


def _rule_editor_observe(page: Page) -> None:
    expect(page.get_by_label("Name")).to_have_value("Voice agents (day)")
    expect(page.locator("body")).to_contain_text("Saved")
    assert PresenceRule.objects.get().name == "Voice agents (day)"


def _rule_assign_setup() -> str:
    rule = PresenceRuleFactory(name="Voice agents")
    team = AgentTeamFactory(business_unit=rule.business_unit, name="Sales")
    TeamRuleAssignment.objects.create(rule=rule, team=team)
    return reverse("presence:rule_assign", args=[rule.pk])


def _rule_assign_enter(page: Page) -> None:
    priority = page.get_by_role("textbox", name="Sales")
    priority.fill("3")
    priority.press("Enter")


def _rule_assign_observe(page: Page) -> None:
    expect(page.locator("body")).to_contain_text("Saved")
    team = AgentTeam.objects.get(name="Sales")
    assert TeamRuleAssignment.objects.get(team=team).priority == 3


def _rule_search_setup() -> str:
    path = _rule_assign_setup()
    rule = PresenceRule.objects.get()
    for name in ("Support", "Billing"):
        AgentTeamFactory(business_unit=rule.business_unit, name=name)
    return path


def _rule_search_enter(page: Page) -> None:
    page.get_by_role("textbox", name="Sales").fill("3")
    search = page.get_by_role("searchbox", name="Search available teams")
    search.fill("Bill")
    search.press("Enter")


def _rule_search_observe(page: Page) -> None:
    available = page.get_by_role("listbox", name="Available teams").get_by_role("option")
    expect(available).to_have_text(["Billing"])
    # The typed priority is still on screen, and nothing was saved.
    expect(page.get_by_role("textbox", name="Sales")).to_have_value("3")
    expect(page.locator("body")).not_to_contain_text("Saved")
    assert TeamRuleAssignment.objects.get().priority is None


CASES = {
    "account form: Enter in a chat message saves every edit": Case(
        _account_setup, _account_enter, _account_observe
    ),
    "phone types: Enter on a checkbox saves without moving a row": Case(
        _account_setup, _phone_types_enter, _phone_types_observe
    ),
    "auto-map review: Enter keeps the exclusions and goes on to confirm": Case(
        _automap_setup, _automap_enter, _automap_observe
    ),
    "mapping: Enter on a selected agent enables it": Case(
        _mapping_setup, _mapping_enter, _mapping_observe
    ),
    "reason codes: Enter adds the typed code, not the standard set": Case(
        _reason_codes_setup, _reason_codes_enter, _reason_codes_observe
    ),
    "rule editor: Enter saves the rule": Case(
        _rule_editor_setup, _rule_editor_enter, _rule_editor_observe
    ),
    "rule assignment: Enter in a priority saves it": Case(
        _rule_assign_setup, _rule_assign_enter, _rule_assign_observe
    ),
    "rule assignment: Enter in a search box only searches": Case(
        _rule_search_setup, _rule_search_enter, _rule_search_observe
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_enter_does_the_forms_main_action(page: Page, live_server, administrator, case: Case):
    path = case.setup()
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}{path}")

    case.press_enter(page)

    case.observe(page)

"""Presence rules in a real browser: build a two-way rule with "Add row", assign it
to a team, give one agent another rule, and preview both directions for that agent."""

from playwright.sync_api import Page, expect

from presence.models import AgentRuleAssignment, PresenceRule, TeamRuleAssignment
from presence.rules.services import (
    PublisherRowInput,
    SubscriberRowInput,
    reason_codes_ensure,
    rule_save,
)
from tests.accounts.factories import AgentFactory, AgentTeamFactory, BusinessUnitFactory
from tests.browser.test_login import sign_in

# Every page reports its own violations too, in case the browser's console message changes.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy: ${event.violatedDirective} ${event.sourceFile}`);
});
"""


def _csp_violations(page: Page) -> list[str]:
    violations: list[str] = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
    )
    return violations


def test_admin_builds_assigns_overrides_and_previews_a_rule(page: Page, live_server, administrator):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    sales = AgentTeamFactory(business_unit=unit, name="Sales")
    ann = AgentFactory(business_unit=unit, name="Ann Lee", teams=[sales])
    bob = AgentFactory(business_unit=unit, name="Bob Roy", teams=[sales])
    rule_save(
        actor=None,
        business_unit=unit,
        name="Conference desk",
        direction="both",
        publisher_rows=[PublisherRowInput("working", None, "set", "Busy", "InAConferenceCall", 30)],
        subscriber_rows=[SubscriberRowInput("Away", None, "unavailable", "break")],
    )
    violations = _csp_violations(page)
    sign_in(page, live_server.url, "ada")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rules").click()
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name").fill("Voice agents")
    expect(page.get_by_label("Direction")).to_have_value("both")

    # Contact center → Teams: row 1 is there; "Add row" adds row 2 in place.
    publisher = page.locator("#publisher-rows")
    publisher.get_by_label("ACD state, row 1").select_option(label="Available")
    publisher.get_by_label("Teams presence, row 1").select_option(label="Set Available / Available")
    publisher.get_by_role("button", name="Add row").click()
    publisher.get_by_label("ACD state, row 2").select_option(label="Working (on a call)")
    publisher.get_by_label("Teams presence, row 2").select_option(label="Set Busy / InACall")
    publisher.get_by_label("Session, row 2").select_option(label="60 minutes")
    # What row 1 held survived the round trip.
    expect(publisher.get_by_label("Teams presence, row 1")).to_have_value("Available/Available")

    # Teams → contact center.
    subscriber = page.locator("#subscriber-rows")
    subscriber.get_by_label("Teams availability, row 1").select_option("DoNotDisturb")
    subscriber.get_by_label("ACD state, row 1").select_option(label="Unavailable")
    subscriber.get_by_label("Reason code, row 1").select_option(label="Meeting")
    subscriber.get_by_role("button", name="Add row").click()
    subscriber.get_by_label("Teams availability, row 2").select_option("Busy")
    subscriber.get_by_label("Teams activity, row 2").select_option("InAMeeting")
    subscriber.get_by_label("ACD state, row 2").select_option(label="Unavailable")
    subscriber.get_by_label("Reason code, row 2").select_option(label="Training")
    expect(page.locator("input[name=pub_key]")).to_have_count(2)
    expect(page.locator("input[name=sub_key]")).to_have_count(2)
    assert not PresenceRule.objects.filter(name="Voice agents").exists()

    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Saved rule Voice agents.")).to_be_visible()
    rule = PresenceRule.objects.get(name="Voice agents")
    assert [(r.acd_state, r.activity) for r in rule.publisher_rows.all()] == [
        ("available", "Available"),
        ("working", "InACall"),
    ]
    assert [(r.availability, r.reason_code.code) for r in rule.subscriber_rows.all()] == [
        ("DoNotDisturb", "meeting"),
        ("Busy", "training"),
    ]

    # Assign it to the Sales team with the dual-list picker.
    page.get_by_role("link", name="Assign to teams and users").click()
    page.get_by_label("Available teams", exact=True).select_option(label="Sales")
    page.get_by_role("button", name="Add →").click()
    expect(page.get_by_label("Assigned teams", exact=True).locator("option")).to_have_text(
        ["Sales"]
    )
    page.get_by_role("button", name="Save teams").click()
    expect(page.get_by_text("Saved: Voice agents is assigned to 1 team.")).to_be_visible()
    assert TeamRuleAssignment.objects.get(team=sales).rule == rule

    # Ann follows the team's rule.
    page.goto(f"{live_server.url}/agents/{ann.pk}/rule/")
    expect(page.locator("[data-source]")).to_have_text("Team assigned rule: Sales")
    page.get_by_label("ACD state").select_option(label="Working (on a call)")
    expect(page.locator("[data-preview=publisher]")).to_have_text(
        "Set Teams presence to Busy / InACall for 1 hour"
    )

    # Bob gets a rule of his own, which wins over the team's.
    page.goto(f"{live_server.url}/agents/{bob.pk}/rule/")
    expect(page.locator("[data-source]")).to_have_text("Team assigned rule: Sales")
    page.get_by_label("User Assigned Rule").check()
    page.get_by_label("Rule", exact=True).select_option(label="Conference desk")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Bob Roy now uses Conference desk.")).to_be_visible()
    expect(page.locator("[data-source]")).to_have_text("User assigned rule")
    assert AgentRuleAssignment.objects.get(agent=bob).rule.name == "Conference desk"

    # The preview follows each choice without a page load.
    page.get_by_label("ACD state").select_option(label="Working (on a call)")
    expect(page.locator("[data-preview=publisher]")).to_have_text(
        "Set Teams presence to Busy / InAConferenceCall for 30 minutes"
    )
    page.get_by_label("Teams availability").select_option("Away")
    page.get_by_label("Teams activity").select_option("Away")
    expect(page.locator("[data-preview=subscriber]")).to_have_text("ACD state Unavailable (Break)")
    expect(page.get_by_text("Agent-to-agent (internal) calls never trigger rules.")).to_be_visible()
    assert violations == []


def _row_keys(page: Page, table: str) -> list[str]:
    return page.locator(f"#{table}-rows tbody tr[data-key]").evaluate_all(
        "rows => rows.map(r => r.dataset.key)"
    )


def test_admin_reorders_rows_by_drag_and_by_keyboard(page: Page, live_server, administrator):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    rule = rule_save(
        actor=None,
        business_unit=unit,
        name="Voice agents",
        direction="publisher",
        publisher_rows=[
            PublisherRowInput("available", None, "set", "Available", "Available", 240),
            PublisherRowInput("working", None, "set", "Busy", "InACall", 60),
            PublisherRowInput("logged_out", None, "clear"),
        ],
        subscriber_rows=[],
    )
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/rules/{rule.pk}/")
    assert _row_keys(page, "publisher") == ["1", "2", "3"]

    # Drag "Logged out" to the top: the form comes back in the new order, unsaved.
    page.locator('#publisher-rows tr[data-key="3"] .handle').drag_to(
        page.locator('#publisher-rows tr[data-key="1"]'), target_position={"x": 10, "y": 2}
    )
    expect(page.locator("#publisher-rows").get_by_label("ACD state, row 1")).to_have_value(
        "logged_out"
    )
    assert _row_keys(page, "publisher") == ["3", "1", "2"]

    # Keyboard: move row 3 (Working) up; focus stays on its Up button.
    up = page.locator("#publisher-rows").get_by_role("button", name="Move row 3 up")
    up.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#publisher-rows").get_by_label("ACD state, row 2")).to_have_value(
        "working"
    )
    expect(
        page.locator("#publisher-rows").get_by_role("button", name="Move row 2 up")
    ).to_be_focused()
    assert [r.acd_state for r in rule.publisher_rows.all()] == [
        "available",
        "working",
        "logged_out",
    ]

    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Saved rule Voice agents.")).to_be_visible()
    assert [r.acd_state for r in rule.publisher_rows.all()] == [
        "logged_out",
        "working",
        "available",
    ]


def test_a_new_rule_saves_as_offered(page: Page, live_server, administrator):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    violations = _csp_violations(page)
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/rules/new/?business_unit={unit.pk}")

    page.get_by_label("Name").fill("As offered")
    page.get_by_role("button", name="Save rule").click()

    expect(page.get_by_text("Saved rule As offered.")).to_be_visible()
    rule = PresenceRule.objects.get(name="As offered")
    assert rule.direction == "both"
    assert rule.publisher_rows.count() == 1
    assert rule.subscriber_rows.count() == 1
    assert violations == []


def test_the_editor_offers_rows_only_for_the_chosen_direction(
    page: Page, live_server, administrator
):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    violations = _csp_violations(page)
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/rules/new/?business_unit={unit.pk}")
    publisher = page.locator("#publisher-rows")
    subscriber = page.locator("#subscriber-rows")

    page.get_by_label("Name").fill("One way")
    page.get_by_label("Direction").select_option(label="Contact center → Teams")
    expect(subscriber.get_by_label("Teams availability, row 1")).to_be_hidden()
    expect(subscriber.get_by_text("Not used by a Contact center → Teams rule")).to_be_visible()

    # Changing one's mind brings the rows back as they were.
    page.get_by_label("Direction").select_option(label="Teams → contact center")
    expect(subscriber.get_by_label("Teams availability, row 1")).to_be_visible()
    expect(publisher.get_by_label("ACD state, row 1")).to_be_hidden()

    page.get_by_label("Direction").select_option(label="Contact center → Teams")
    page.get_by_role("button", name="Save rule").click()

    expect(page.get_by_text("Saved rule One way.")).to_be_visible()
    rule = PresenceRule.objects.get(name="One way")
    assert rule.direction == "publisher"
    assert rule.publisher_rows.count() == 1
    assert not rule.subscriber_rows.exists()
    assert violations == []


def test_a_refused_save_keeps_the_page_within_its_policy(page: Page, live_server, administrator):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    violations = _csp_violations(page)
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/rules/new/?business_unit={unit.pk}")
    # Autofill and password-manager extensions decorate inputs through the style
    # property (which the policy allows); htmx used to copy that decoration onto the
    # swapped-in field as a style attribute, which the policy refuses.
    page.evaluate("document.getElementById('rule-name').style.backgroundColor = 'lightyellow'")

    page.get_by_role("button", name="Save rule").click()

    expect(page.get_by_text("The rule was not saved")).to_be_visible()
    expect(page.get_by_text("Give the rule a name.")).to_be_visible()
    page.wait_for_timeout(500)  # a violation is reported after the swap settles
    assert violations == []


# The controls on screen that a toast overlaps, even by a corner.
CONTROLS_UNDER_TOASTS = """() => {
  const overlaps = (a, b) =>
    a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const toasts = [...document.querySelectorAll(".toast")].map((t) => t.getBoundingClientRect());
  const covered = [];
  for (const control of document.querySelectorAll("main button, main select, main a, main input")) {
    const box = control.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (toasts.some((toast) => overlaps(box, toast))) {
      covered.push((control.labels?.[0]?.textContent || control.textContent).trim().slice(0, 40));
    }
  }
  return covered;
}"""


def test_a_toast_never_covers_the_controls(page: Page, live_server, administrator):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    bob = AgentFactory(business_unit=unit, name="Bob Roy")
    rule_save(
        actor=None,
        business_unit=unit,
        name="Conference desk",
        direction="publisher",
        publisher_rows=[PublisherRowInput("working", None, "set", "Busy", "InACall", 30)],
        subscriber_rows=[],
    )
    page.set_viewport_size({"width": 1280, "height": 720})
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/agents/{bob.pk}/rule/")
    page.get_by_label("User Assigned Rule").check()
    page.get_by_label("Rule", exact=True).select_option(label="Conference desk")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Bob Roy now uses Conference desk.")).to_be_visible()

    # Wherever the page is scrolled to: a control scrolling past a fixed toast is covered.
    for width, height in ((1280, 720), (800, 600), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        bottom = page.evaluate("document.documentElement.scrollHeight - innerHeight")
        for scrolled in range(0, bottom + 25, 25):
            page.evaluate(f"window.scrollTo(0, {scrolled})")
            assert page.evaluate(CONTROLS_UNDER_TOASTS) == [], f"{width} px wide, at {scrolled}"
    expect(page.locator(".toast")).to_be_visible()  # still there: it was checked, not gone


def test_a_team_moved_between_lists_says_what_saving_will_do(
    page: Page, live_server, administrator
):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    sales = AgentTeamFactory(business_unit=unit, name="Sales")
    rows = {
        "direction": "publisher",
        "publisher_rows": [PublisherRowInput("working", None, "set", "Busy", "InACall", 30)],
        "subscriber_rows": [],
    }
    desk = rule_save(actor=None, business_unit=unit, name="Conference desk", **rows)
    voice = rule_save(actor=None, business_unit=unit, name="Voice agents", **rows)
    TeamRuleAssignment.objects.create(team=sales, rule=desk)
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/rules/{voice.pk}/assign/")
    available = page.get_by_label("Available teams", exact=True).locator("option")
    assigned = page.get_by_label("Assigned teams", exact=True).locator("option")
    expect(available).to_have_text(["Sales · now Conference desk"])

    page.get_by_label("Available teams", exact=True).select_option(index=0)
    page.get_by_role("button", name="Add →").click()
    expect(assigned).to_have_text(["Sales · moves from Conference desk"])

    page.get_by_label("Assigned teams", exact=True).select_option(index=0)
    page.get_by_role("button", name="← Remove").click()
    expect(available).to_have_text(["Sales · now Conference desk"])

    page.get_by_label("Available teams", exact=True).select_option(index=0)
    page.get_by_role("button", name="Add →").click()
    expect(assigned).to_have_text(["Sales · moves from Conference desk"])
    page.get_by_role("button", name="Save teams").click()
    expect(page.get_by_text("Saved: Voice agents is assigned to 1 team.")).to_be_visible()
    expect(assigned).to_have_text(["Sales"])

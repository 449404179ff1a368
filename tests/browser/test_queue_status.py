"""The dashboard in a real browser: work left waiting on a queue shows up without a reload."""

import uuid

import pytest
from playwright.sync_api import Page, expect

from config.celery import app
from console.health import heartbeat_record
from tests.browser.test_login import sign_in
from tests.support.worker_tasks import nap

FAIL_BACKGROUND = "rgb(253, 236, 234)"  # --fail-bg


@pytest.fixture
def own_queues(settings):
    """Queues no worker of the session consumes: what is sent there keeps waiting."""
    base = f"ccbridge-test-browser-{uuid.uuid4().hex[:10]}"
    settings.TASK_QUEUES = {role: f"{base}.{role}" for role in ("interactive", "sync", "bulk")} | {
        "default": base
    }
    yield settings.TASK_QUEUES
    with app.connection_for_write() as connection:
        for name in settings.TASK_QUEUES.values():
            connection.default_channel.queue_purge(name)


def test_a_queue_whose_work_waits_turns_red_on_the_dashboard(
    page: Page, live_server, administrator, own_queues, settings
):
    settings.QUEUE_WAIT_WARNING_SECONDS = 2
    heartbeat_record()
    sign_in(page, live_server.url, "ada")
    row = page.locator('#system-status [data-queue="interactive"]')
    expect(row).to_contain_text("nothing waiting")
    page.evaluate("window.dashboardMarker = 'not reloaded'")

    for _ in range(3):
        nap.apply_async(kwargs={"seconds": 0}, queue=own_queues["interactive"])

    expect(row).to_contain_text("Waiting", timeout=25_000)
    expect(row).to_contain_text("3 waiting, the oldest for")
    expect(row).to_contain_text("the workers are not keeping up")
    expect(row).to_have_css("background-color", FAIL_BACKGROUND)
    expect(page.locator('#system-status [data-queue="bulk"]')).to_contain_text("nothing waiting")
    assert page.evaluate("window.dashboardMarker") == "not reloaded"

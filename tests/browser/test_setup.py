"""The setup page in a real browser: a broken tenant, two fixes made in "Azure"
(the simulator's control API), and a rerun to green."""

import pytest
from celery import current_app
from django.conf import settings
from playwright.sync_api import Page, expect

from config.queues import queue_name
from integrations.setup.collect import redirect_uri
from tests.browser.test_login import sign_in
from tests.integrations.factories import IntegrationAccountFactory
from tests.integrations.test_setup_checks import GUIDE_DELEGATED, PUBLIC_URL, READS
from tests.plugins.celery_worker import worker_start
from tests.plugins.graphsim_server import CCBRIDGE_APPLICATION_PERMISSIONS
from tests.presence.factories import SubscriptionFactory, SystemUserFactory
from tests.presence.support_sync import SYSTEM_PASSWORD, sim_system_user


@pytest.fixture
def https_worker(monkeypatch, test_database_url, graphsim, graph_settings, tmp_path):
    """A worker of its own that knows the console by an HTTPS public URL, on a queue
    of its own, so the session's worker (plain HTTP) never takes the rounds."""
    monkeypatch.setattr(settings, "CCBRIDGE_PUBLIC_URL", PUBLIC_URL)
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-setup"
    routes = {
        **settings.CELERY_TASK_ROUTES,
        "integrations.setup.run": {"queue": queue_name(queue, "interactive")},
    }
    monkeypatch.setitem(current_app.conf, "task_routes", routes)
    # Celery builds its router once; make it read the table above (both are put back).
    monkeypatch.setattr(current_app.amqp, "_rtable", None)
    monkeypatch.delitem(current_app.amqp.__dict__, "router", raising=False)
    worker = worker_start(
        database_url=test_database_url,
        graphsim=graphsim,
        log_path=tmp_path / "worker.log",
        queue=queue,
        concurrency=1,
        name="setup",
        extra_env={"CCBRIDGE_PUBLIC_URL": PUBLIC_URL},
    )
    yield worker
    worker.stop()


def test_a_broken_tenant_is_fixed_in_azure_and_rerun_to_green(
    page: Page, live_server, administrator, transactional_db, https_worker, sim_tenant, graphsim
):
    control = graphsim.control
    # Set up as the guides ask, except two steps: no redirect URI, and security defaults on.
    control.update_app(
        sim_tenant.tenant_id,
        sim_tenant.client_id,
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS + READS,
        delegated=GUIDE_DELEGATED,
        redirect_uris=[],
    )
    control.request(
        "PUT", f"/tenants/{sim_tenant.tenant_id}/security-defaults", json={"enabled": True}
    )
    IntegrationAccountFactory.for_tenant(sim_tenant)
    user = sim_system_user(graphsim, sim_tenant)
    SubscriptionFactory(
        system_user=SystemUserFactory(username=user["userPrincipalName"], password=SYSTEM_PASSWORD)
    )

    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Setup").click()
    page.get_by_role("button", name="Run checks").click()
    expect(page.get_by_text("Something is broken.")).to_be_visible(timeout=60_000)
    red = page.locator('tr[data-state="red"]')
    expect(page.locator('tr[data-check="registration.redirect_uri"]')).to_have_attribute(
        "data-state", "red"
    )
    expect(page.locator('tr[data-check="accounts.security_defaults"]')).to_have_attribute(
        "data-state", "red"
    )
    expect(red.first).to_contain_text("Broken")

    # The administrator follows the two fixes in Azure.
    control.update_app(sim_tenant.tenant_id, sim_tenant.client_id, redirect_uris=[redirect_uri()])
    control.request(
        "PUT", f"/tenants/{sim_tenant.tenant_id}/security-defaults", json={"enabled": False}
    )

    page.get_by_role("button", name="Run checks").click()
    expect(page.get_by_text("Everything is set up.")).to_be_visible(timeout=60_000)
    expect(red).to_have_count(0)

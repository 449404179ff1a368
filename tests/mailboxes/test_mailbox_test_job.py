"""Test mailbox runs as a job in a real worker against the simulator over HTTPS:
token, mail permissions, inbox, a message to itself, and the application access
policy in both outcomes; a missing mailbox, a user without an Exchange licence and a
wrong secret each get their own sentence."""

from django.test import Client
from django.urls import reverse

from integrations.models import JobRun
from mailboxes.models import Mailbox, MailboxTest
from tests.factories import AdministratorFactory
from tests.integrations.factories import IntegrationAccountFactory
from tests.mailboxes.factories import MailboxFactory
from tests.plugins.celery_worker import wait_for


def _finished():
    test = MailboxTest.objects.select_related("job").first()
    closed = (JobRun.Status.SUCCEEDED, JobRun.Status.FAILED)
    if (
        test
        and test.outcome != MailboxTest.Outcome.PENDING
        and test.job
        and test.job.status in closed
    ):
        return test
    return None


def _run(mailbox: Mailbox) -> tuple[MailboxTest, Client]:
    client = Client()
    client.force_login(AdministratorFactory())
    response = client.post(
        reverse("mailboxes:test", args=[mailbox.pk]), headers={"HX-Request": "true"}
    )
    assert 'hx-trigger="every 1s"' in response.content.decode()
    return wait_for(_finished, what="the Test mailbox job", timeout=60), client


def _steps(test: MailboxTest) -> dict[str, dict]:
    return {step["key"]: step for step in test.steps}


def _upn(sim_tenant, index: int) -> str:
    return sim_tenant.users[index]["userPrincipalName"]


def test_an_unrestricted_app_works_but_is_warned_with_the_powershell(
    celery_worker, sim_tenant, graphsim
):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    mailbox = MailboxFactory(address=_upn(sim_tenant, 0).lower())

    test, client = _run(mailbox)

    assert test.outcome == MailboxTest.Outcome.WARNING, (test.steps, celery_worker.log())
    steps = _steps(test)
    assert [steps[k]["status"] for k in ("token", "permissions", "inbox", "round_trip")] == [
        "passed"
    ] * 4
    assert steps["policy"]["status"] == "warning"
    assert steps["policy"]["detail"].startswith("Not restricted: this app could read the mailbox")
    commands = "\n".join(steps["policy"]["commands"])
    assert f"New-ApplicationAccessPolicy -AppId {sim_tenant.client_id}" in commands
    assert "-AccessRight RestrictAccess" in commands
    assert f"Test-ApplicationAccessPolicy -Identity {mailbox.address}" in commands
    assert '-Role "Application Mail.ReadWrite"' in "\n".join(steps["policy"]["alternative"])
    # The test message arrived and was deleted again: nothing is left for the contact center.
    inbox = graphsim.control.mailbox_messages(sim_tenant.tenant_id, mailbox.address)
    assert inbox == []
    page = client.get(reverse("mailboxes:test_result", args=[test.pk])).content.decode()
    assert "The mailbox works, with warnings" in page and "New-ApplicationAccessPolicy" in page
    assert "hx-trigger" not in page
    assert Mailbox.objects.get().token_state == Mailbox.TokenState.OK


def test_a_restricted_app_passes_the_policy_check(celery_worker, sim_tenant, graphsim):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    address = _upn(sim_tenant, 1).lower()
    graphsim.control.restrict_app_to_mailboxes(
        sim_tenant.tenant_id, sim_tenant.client_id, [address]
    )
    mailbox = MailboxFactory(address=address)

    test, _ = _run(mailbox)

    assert test.outcome == MailboxTest.Outcome.PASSED, test.steps
    assert test.headline == "The mailbox works"
    policy = _steps(test)["policy"]
    assert policy["status"] == "passed" and policy["detail"].startswith("Restricted:")
    assert "403 ErrorAccessDenied" in policy["detail"] and not policy["commands"]


def test_a_missing_mailbox_and_a_user_without_exchange_get_their_own_sentence(
    celery_worker, sim_tenant, graphsim
):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    missing = MailboxFactory(address=f"nobody@{sim_tenant.domain}")
    test, _ = _run(missing)
    inbox = _steps(test)["inbox"]
    assert test.outcome == MailboxTest.Outcome.FAILED and test.headline == "Error: Inbox readable"
    assert inbox["detail"].startswith(
        f"Exchange Online knows no mailbox {missing.address} (ErrorInvalidUser)"
    )
    assert _steps(test)["round_trip"]["status"] == "skipped"

    MailboxTest.objects.all().delete()
    unlicensed = _upn(sim_tenant, 2).lower()
    graphsim.control.set_mailbox(sim_tenant.tenant_id, unlicensed, enabled=False)
    test, _ = _run(MailboxFactory(address=unlicensed))
    detail = _steps(test)["inbox"]["detail"]
    assert "has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI)" in detail
    assert "licence" in detail


def test_a_separate_app_with_a_wrong_secret_names_the_aadsts_cause(celery_worker, sim_tenant):
    mailbox = MailboxFactory(
        address=_upn(sim_tenant, 3).lower(),
        app_source=Mailbox.AppSource.SEPARATE,
        tenant=sim_tenant.tenant_id,
        client_id=sim_tenant.client_id,
        client_secret="definitely-not-the-secret",
    )

    test, _ = _run(mailbox)

    assert test.headline == "Error: Failed to request a token"
    assert "AADSTS7000215" in _steps(test)["token"]["detail"]
    assert test.job.status == JobRun.Status.FAILED
    mailbox.refresh_from_db()
    assert (
        mailbox.token_state == Mailbox.TokenState.FAILED and "AADSTS7000215" in mailbox.last_error
    )


def test_an_app_without_mail_send_is_told_what_to_grant(celery_worker, sim_tenant, graphsim):
    app = graphsim.control.create_app(
        sim_tenant.tenant_id, permissions=["User.Read.All", "Mail.ReadWrite"]
    )
    mailbox = MailboxFactory(
        address=_upn(sim_tenant, 4).lower(),
        app_source=Mailbox.AppSource.SEPARATE,
        tenant=sim_tenant.tenant_id,
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )

    test, _ = _run(mailbox)

    permissions = _steps(test)["permissions"]
    assert permissions["status"] == "failed"
    assert "lacks the application permission Mail.Send" in permissions["detail"]
    assert f"adminconsent?client_id={app['client_id']}" in permissions["detail"]

"""Alerts: one email per incident and per recipient, one when it clears, and the
Alerts screen with recipients, incidents and the outbox."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from console.alerts.services import alert_recipient_add, alerts_evaluate
from console.models import Incident
from integrations.models import IntegrationAccount, SetupRun
from mailboxes.models import Mailbox
from presence.sync_models import AcdDelivery, Subscription, SystemUser
from tests.integrations.factories import IntegrationAccountFactory
from tests.mailboxes.factories import MailboxFactory
from tests.presence.factories import AcdDeliveryFactory, SubscriptionFactory, SystemUserFactory


@pytest.fixture
def recipients(db):
    alert_recipient_add(email="ops@contact-center.example")
    alert_recipient_add(email="Lead@Contact-Center.example")
    return ["ops@contact-center.example", "lead@contact-center.example"]


def _subjects() -> list[str]:
    return sorted(m.subject for m in mail.outbox)


def test_two_incidents_are_mailed_once_each_and_again_when_they_clear(recipients):
    account = IntegrationAccountFactory(secret_expires_at=timezone.now() + timedelta(days=10))
    dead = AcdDeliveryFactory(status=AcdDelivery.Status.DEAD)

    assert alerts_evaluate() == {"opened": 2, "cleared": 0}
    assert len(mail.outbox) == 4
    assert {tuple(m.to) for m in mail.outbox} == {(r,) for r in recipients}
    assert "[ccbridge] Alert: The client secret expires within 15 days" in _subjects()

    # Still red: the same incidents, no new mail.
    assert alerts_evaluate() == {"opened": 0, "cleared": 0}
    assert len(mail.outbox) == 4

    AcdDelivery.objects.filter(pk=dead.pk).update(status=AcdDelivery.Status.DELIVERED)
    assert alerts_evaluate() == {"opened": 0, "cleared": 1}
    cleared = [s for s in _subjects() if s.startswith("[ccbridge] Cleared")]
    assert cleared == ["[ccbridge] Cleared: ACD deliveries are dead-lettered"] * 2
    assert Incident.objects.get(key="secret.expiry").is_open

    IntegrationAccount.objects.filter(pk=account.pk).update(
        secret_expires_at=timezone.now() + timedelta(days=200)
    )
    assert alerts_evaluate() == {"opened": 0, "cleared": 1}
    assert len(mail.outbox) == 8
    assert not Incident.objects.filter(cleared_at__isnull=True).exists()

    # Red again later: a second incident for the same signal, mailed again.
    IntegrationAccount.objects.filter(pk=account.pk).update(
        secret_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert alerts_evaluate() == {"opened": 1, "cleared": 0}
    assert Incident.objects.filter(key="secret.expiry").count() == 2
    assert mail.outbox[-1].subject == "[ccbridge] Alert: The client secret has expired"


def test_each_health_signal_opens_an_incident(recipients):
    IntegrationAccountFactory(token_error="AADSTS7000215: Invalid client secret provided.")
    SystemUserFactory(username="p1@contoso.example", status=SystemUser.Status.MFA_REQUIRED)
    SubscriptionFactory(status=Subscription.Status.FAILED, last_error="Graph said 403")
    SubscriptionFactory(expires_at=timezone.now() - timedelta(minutes=5))
    SetupRun.objects.create(
        finished_at=timezone.now(),
        state="red",
        checks=[
            {
                "key": "webhook.https",
                "title": "Public URL uses HTTPS",
                "state": "red",
                "evidence": "It is http.",
                "fix": "Use HTTPS.",
                "group": "Public webhook",
            }
        ],
    )

    alerts_evaluate()

    titles = sorted(Incident.objects.values_list("title", flat=True))
    assert "The app token cannot be refreshed" in titles
    assert "p1@contoso.example cannot sign in (MFA required)" in titles
    assert any("is dead" in t for t in titles)
    assert any("was not renewed" in t for t in titles)
    assert "Setup check failed: Public URL uses HTTPS" in titles


def test_without_recipients_incidents_are_still_recorded(db):
    AcdDeliveryFactory(status=AcdDelivery.Status.DEAD)
    assert alerts_evaluate()["opened"] == 1
    assert mail.outbox == []


def test_the_alerts_screen_adds_recipients_and_shows_incidents_and_the_outbox(
    administrator_client, recipients
):
    AcdDeliveryFactory(status=AcdDelivery.Status.DEAD)
    alerts_evaluate()
    response = administrator_client.post(reverse("console:alerts"), {"email": "new@x.example"})
    assert response.status_code == 302
    page = administrator_client.get(reverse("console:alerts")).content.decode()
    assert 'data-recipient="new@x.example"' in page
    assert 'data-incident="acd.dead_letters" data-state="open"' in page
    assert "[ccbridge] Alert: ACD deliveries are dead-lettered" in page
    assert 'href="/alerts/"' in page


def test_supervisors_may_not_open_the_alerts_screen(supervisor_client):
    assert supervisor_client.get(reverse("console:alerts")).status_code == 403


def test_a_failing_mailbox_is_an_incident_until_it_works_again(recipients):
    mailbox = MailboxFactory(
        address="support@contoso.example",
        token_state=Mailbox.TokenState.FAILED,
        last_error="AADSTS7000215: Invalid client secret provided.",
    )
    MailboxFactory(enabled=False, token_state=Mailbox.TokenState.FAILED)  # switched off: quiet

    assert alerts_evaluate() == {"opened": 1, "cleared": 0}
    incident = Incident.objects.get()
    assert incident.key == f"mailbox.{mailbox.pk}"
    assert _subjects() == ["[ccbridge] Alert: The mailbox support@contoso.example is failing"] * 2
    assert "AADSTS7000215" in mail.outbox[0].body

    Mailbox.objects.filter(pk=mailbox.pk).update(token_state=Mailbox.TokenState.OK, last_error="")
    assert alerts_evaluate() == {"opened": 0, "cleared": 1}
    assert mail.outbox[-1].subject == (
        "[ccbridge] Cleared: The mailbox support@contoso.example is failing"
    )


def test_a_mailbox_apps_secret_near_expiry_is_an_incident(recipients):
    mailbox = MailboxFactory(
        address="sales@contoso.example",
        app_source=Mailbox.AppSource.SEPARATE,
        secret_expires_at=timezone.now() + timedelta(days=3),
        token_state=Mailbox.TokenState.OK,
    )
    MailboxFactory(  # the Teams account's app: its own bar and alert cover it
        token_state=Mailbox.TokenState.OK, secret_expires_at=timezone.now() + timedelta(days=3)
    )

    assert alerts_evaluate() == {"opened": 1, "cleared": 0}
    assert Incident.objects.get().key == f"mailbox.{mailbox.pk}.secret"
    assert mail.outbox[0].subject == (
        "[ccbridge] Alert: The app secret of the mailbox sales@contoso.example expires"
    )

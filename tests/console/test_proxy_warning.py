"""A proxy the console was not told about (CLIENT_IP_PROXY_COUNT = 0) is pointed out.

Behind such a proxy every caller has the proxy's address, so one person's wrong
passwords lock a user out for everyone and junk POSTs throttle Graph. The first
request that shows it (it carries X-Forwarded-For) logs a warning once per
process and Administrators see it on the dashboard; `check --deploy` reminds
about the setting before any request arrives.
"""

import logging

import pytest
from django.core import checks
from django.test import Client
from django.urls import reverse

from config import forwarded

PROXY = "10.0.0.2"
WARNING_TEXT = "CLIENT_IP_PROXY_COUNT"


@pytest.fixture(autouse=True)
def _fresh_process(monkeypatch, settings):
    """Each test is a process that has not warned yet, with no proxy configured."""
    monkeypatch.setattr(forwarded, "_logged", False)
    settings.CLIENT_IP_PROXY_COUNT = 0


def sign_in_through_proxy(**extra):
    client = Client(REMOTE_ADDR=PROXY, **extra)
    return client.post(reverse("console:login"), {"username": "sam", "password": "wrong"})


def proxy_warnings(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and WARNING_TEXT in record.getMessage()
    ]


def test_a_forwarded_sign_in_logs_one_warning_per_process(supervisor, caplog):
    for caller in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        sign_in_through_proxy(HTTP_X_FORWARDED_FOR=caller)

    warnings = proxy_warnings(caplog)
    assert len(warnings) == 1
    assert "X-Forwarded-For" in warnings[0].getMessage()
    assert "198.51.100" not in warnings[0].getMessage()


def test_a_forwarded_webhook_post_logs_the_warning_too(db, caplog):
    Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1").post(
        "/graph/notifications", data="junk", content_type="application/json"
    )
    assert len(proxy_warnings(caplog)) == 1


def test_direct_callers_raise_no_warning(supervisor, caplog):
    sign_in_through_proxy()
    assert proxy_warnings(caplog) == []


def test_with_the_proxy_count_set_there_is_no_warning(supervisor, settings, caplog):
    settings.CLIENT_IP_PROXY_COUNT = 1
    sign_in_through_proxy(HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert proxy_warnings(caplog) == []


def test_administrators_see_the_warning_on_the_dashboard(supervisor, administrator_client):
    page = administrator_client.get(reverse("console:dashboard")).content.decode()
    assert "proxy-warning" not in page

    # The webhook or sign-in may come in through a proxy the Administrator does not use.
    sign_in_through_proxy(HTTP_X_FORWARDED_FOR="198.51.100.1")

    page = administrator_client.get(reverse("console:dashboard")).content.decode()
    assert "proxy-warning" in page
    assert "CLIENT_IP_PROXY_COUNT" in page
    assert "every caller shares" in page


def test_the_dashboard_request_itself_can_reveal_the_proxy(administrator):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9")
    client.force_login(administrator)
    page = client.get(reverse("console:dashboard")).content.decode()
    assert "proxy-warning" in page


def test_supervisors_are_not_shown_a_setting_they_cannot_change(supervisor_client):
    sign_in_through_proxy(HTTP_X_FORWARDED_FOR="198.51.100.1")
    page = supervisor_client.get(reverse("console:dashboard")).content.decode()
    assert "proxy-warning" not in page


def test_the_dashboard_warning_goes_once_the_count_is_set(administrator_client, settings):
    sign_in_through_proxy(HTTP_X_FORWARDED_FOR="198.51.100.1")
    settings.CLIENT_IP_PROXY_COUNT = 1
    page = administrator_client.get(reverse("console:dashboard")).content.decode()
    assert "proxy-warning" not in page


def deploy_check_ids() -> set[str]:
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    return {message.id for message in found}


def test_check_deploy_reminds_to_set_the_proxy_count_in_production(settings):
    settings.DEBUG = False
    assert "console.W001" in deploy_check_ids()


def test_check_deploy_is_quiet_once_the_proxy_count_is_set(settings):
    settings.DEBUG = False
    settings.CLIENT_IP_PROXY_COUNT = 1
    assert "console.W001" not in deploy_check_ids()


def test_development_is_not_nagged(settings):
    settings.DEBUG = True
    assert "console.W001" not in deploy_check_ids()

"""The secret-expiry bar: pink from 15 days before, red once expired, on every page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone


@pytest.mark.parametrize(
    ("days", "level"),
    [(16, None), (15, "warning"), (1, "warning"), (-1, "danger")],
)
def test_banner_by_days_to_expiry(supervisor_client, make_account, days, level):
    expires = timezone.now() + timedelta(days=days)
    make_account(secret_expires_at=expires)
    for url in (reverse("console:dashboard"), reverse("console:job_list")):
        page = supervisor_client.get(url).content.decode()
        if level is None:
            assert 'class="banner banner-' not in page
            continue
        assert f'class="banner banner-{level}"' in page
        assert expires.strftime("%-d %B %Y") in page
        assert f'href="{reverse("integrations:account")}"' in page


def test_expired_banner_says_it_expired(supervisor_client, make_account):
    make_account(secret_expires_at=timezone.now() - timedelta(hours=2))
    page = supervisor_client.get(reverse("console:dashboard")).content.decode()
    assert "client secret expired on" in page


def test_no_banner_without_a_known_expiry(supervisor_client, make_account):
    make_account(secret_expires_at=None)
    assert (
        'class="banner banner-'
        not in supervisor_client.get(reverse("console:dashboard")).content.decode()
    )

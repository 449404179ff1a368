"""Fixtures for the presence screens: a business unit with the standard reason codes."""

import pytest

from presence.rules.services import reason_codes_ensure
from tests.accounts.factories import BusinessUnitFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """These tests sign users in with force_login: a slow hash only costs a second a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def unit(db):
    """The Voice business unit, with Break, Lunch, Training and Meeting reason codes."""
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    return unit


@pytest.fixture
def other_unit(db):
    unit = BusinessUnitFactory(name="Back office", code="back-office")
    reason_codes_ensure(unit)
    return unit

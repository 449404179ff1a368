"""A clock tests move forward instead of sleeping past a wall-clock margin."""

import importlib
import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

_real_time = time.time
_real_monotonic = time.monotonic
_real_now = timezone.now
# Modules that took django.utils.timezone.now by name, so patching the module misses them.
NOW_IMPORTED_BY_NAME = ("axes.handlers.proxy", "axes.attempts")


class Clock:
    """Real time plus an offset the test advances: time.time, time.monotonic and
    django.utils.timezone.now all move together, and never backwards."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def time(self) -> float:
        return _real_time() + self.offset

    def monotonic(self) -> float:
        return _real_monotonic() + self.offset

    def now(self) -> datetime:
        return _real_now() + timedelta(seconds=self.offset)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The clock of the code under test (this process only), advanced with clock.advance()."""
    clock = Clock()
    monkeypatch.setattr(time, "time", clock.time)
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(timezone, "now", clock.now)
    for module in NOW_IMPORTED_BY_NAME:
        monkeypatch.setattr(importlib.import_module(module), "now", clock.now)
    return clock

"""Tiny helpers that read settings from the environment.

Every setting has a safe embedded default so `make run` works on a bare
machine; production overrides them through the environment.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def require_in_production(names: tuple[str, ...], *, debug: bool) -> None:
    """Stop start-up when DEBUG is off and any of these variables is unset.

    Their embedded defaults are for development only (a known SECRET_KEY and
    encryption key, the simulator on loopback); production running on them is
    worse than not running at all. Every missing name is listed at once.
    """
    if debug:
        return
    missing = [name for name in names if not os.environ.get(name, "").strip()]
    if missing:
        raise ImproperlyConfigured(
            f"DJANGO_DEBUG is off (production) and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set. Set "
            f"{'it' if len(missing) == 1 else 'each'} in the environment (see the README's "
            "configuration table), or set DJANGO_DEBUG=true for a development run."
        )

"""The demo's commands: `seed_demo` makes the logins `make run` announces, and the
demo process names the variable that moves its webhook."""

import socket

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from console.roles import ADMINISTRATOR, SUPERVISOR


def test_the_demo_command_says_which_variable_moves_its_webhook(monkeypatch):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken_port = other.getsockname()[1]
        monkeypatch.setenv("DEMO_WEBHOOK_PORT", str(taken_port))
        with pytest.raises(
            CommandError, match=f"Port {taken_port} is in use: set DEMO_WEBHOOK_PORT"
        ):
            call_command("demo")


def test_seed_demo_creates_the_logins_once_and_keeps_their_passwords(db, capsys):
    call_command("seed_demo")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-by-its-owner")
    admin.save()

    call_command("seed_demo")

    admin.refresh_from_db()
    assert admin.check_password("changed-by-its-owner")
    assert admin.groups.filter(name=ADMINISTRATOR).exists()
    supervisor = get_user_model().objects.get(username="supervisor")
    assert supervisor.check_password("ccbridge-supervisor")
    assert supervisor.groups.filter(name=SUPERVISOR).exists()
    assert "demo login admin (Administrator) kept" in capsys.readouterr().out


def test_make_run_announces_the_demo_logins():
    banner = apps.get_app_config("demo").stack_banner()
    assert banner == [
        "  Administrator  admin / ccbridge-admin",
        "  Supervisor     supervisor / ccbridge-supervisor",
    ]

"""`make run`: every port configurable and checked first; the demo never takes the console down."""

import io
import signal
import socket
import sys
import time

import pytest
from django.core.management import CommandError, call_command
from honcho.printer import Printer

from console.management.commands.runstack import OPTIONAL, stack_processes
from console.supervisor import ListenPort, PortInUse, Supervisor, ports_check

PYTHON = sys.executable


@pytest.fixture
def taken_port():
    """A loopback port some other program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def restore_signals():
    """honcho installs SIGINT/SIGTERM handlers for its loop; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_taken_port_is_reported_with_the_variable_to_change(taken_port):
    with pytest.raises(PortInUse) as refused:
        ports_check(
            [
                ListenPort("127.0.0.1", _free_port(), "CCBRIDGE_PORT"),
                ListenPort("127.0.0.1", taken_port, "DEMO_WEBHOOK_PORT"),
            ]
        )
    assert str(refused.value) == (
        f"Port {taken_port} is in use: set DEMO_WEBHOOK_PORT to a free port."
    )


def test_free_ports_pass_the_check():
    ports_check([ListenPort("127.0.0.1", _free_port(), "GRAPHSIM_PORT")])


def test_make_run_refuses_to_start_when_the_demo_webhook_port_is_taken(taken_port, monkeypatch):
    monkeypatch.setenv("DEMO_WEBHOOK_PORT", str(taken_port))
    monkeypatch.setenv("CCBRIDGE_PORT", str(_free_port()))
    monkeypatch.setenv("GRAPHSIM_PORT", str(_free_port()))
    started = time.monotonic()

    with pytest.raises(CommandError) as refused:
        call_command("runstack")

    assert str(refused.value) == (
        f"Port {taken_port} is in use: set DEMO_WEBHOOK_PORT to a free port."
    )
    assert time.monotonic() - started < 5  # refused before starting anything


def test_make_run_names_every_taken_port_at_once(taken_port):
    with socket.socket() as second:
        second.bind(("127.0.0.1", 0))
        second.listen()
        sim_port = second.getsockname()[1]
        with pytest.raises(CommandError) as refused:
            call_command(
                "runstack",
                port=taken_port,
                sim_port=sim_port,
                webhook_port=_free_port(),
            )
    assert "set CCBRIDGE_PORT" in str(refused.value)
    assert "set GRAPHSIM_PORT" in str(refused.value)


def test_the_demo_is_told_its_webhook_port_and_is_the_only_optional_process(settings):
    processes = stack_processes(
        python=PYTHON, host="127.0.0.1", port=8001, sim_port=8444, webhook_port=8191, concurrency=4
    )
    assert "--webhook-port 8191" in processes["demo"]
    assert "--console-url http://127.0.0.1:8001" in processes["demo"]
    assert "--port 8444" in processes["graphsim"]
    assert set(OPTIONAL) == {"demo"}


def test_without_the_demo_app_there_is_no_demo_process_and_its_port_is_not_checked(
    settings, taken_port
):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "demo"]
    processes = stack_processes(
        python=PYTHON, host="127.0.0.1", port=8000, sim_port=8443, webhook_port=8190, concurrency=4
    )
    assert "demo" not in processes and "graphsim" in processes

    with socket.socket() as web:
        web.bind(("127.0.0.1", 0))
        web.listen()
        with pytest.raises(CommandError) as refused:
            call_command(
                "runstack",
                port=web.getsockname()[1],
                sim_port=_free_port(),
                webhook_port=taken_port,
            )
    assert "set CCBRIDGE_PORT" in str(refused.value)
    assert "DEMO_WEBHOOK_PORT" not in str(refused.value)


def test_the_interactive_queue_has_a_worker_of_its_own_and_the_other_serves_the_rest(settings):
    processes = stack_processes(
        python=PYTHON, host="127.0.0.1", port=8000, sim_port=None, webhook_port=8190, concurrency=4
    )
    assert "demo" not in processes and "graphsim" not in processes
    queues = settings.TASK_QUEUES
    others = ",".join([queues["sync"], queues["bulk"], queues["default"]])
    assert f"--queues {others} " in processes["worker"]
    assert f"--queues {queues['interactive']} " in processes["jobs"]


def _supervise(processes: dict[str, str], optional=frozenset()) -> tuple[Supervisor, str]:
    # Each command starts with `exec`, as runstack's do: a SIGTERM then reaches the program
    # itself, not only the shell that would hold its output open until the SIGKILL.
    output = io.StringIO()
    manager = Supervisor(Printer(output), optional=optional)
    for name, command in processes.items():
        manager.add_process(name, command)
    manager.loop()
    return manager, output.getvalue()


def test_a_demo_that_exits_at_once_leaves_the_console_running(restore_signals):
    manager, output = _supervise(
        {
            "web": f"exec {PYTHON} -c 'import time; time.sleep(3); print(\"served to the end\")'",
            "demo": f"exec {PYTHON} -c 'raise SystemExit(\"Address already in use\")'",
        },
        optional={"demo"},
    )

    assert "served to the end" in output
    assert "web stopped (rc=0)" in output
    assert "demo stopped (rc=1); it is optional, everything else keeps running" in output
    assert "SIGTERM" not in output
    assert manager.returncode == 0


def test_any_other_process_that_stops_still_stops_everything(restore_signals):
    started = time.monotonic()
    manager, output = _supervise(
        {
            "worker": f"exec {PYTHON} -c 'raise SystemExit(3)'",
            "web": f"exec {PYTHON} -c 'import time; time.sleep(60)'",
        },
        optional={"demo"},
    )
    assert time.monotonic() - started < 30
    assert "sending SIGTERM to web" in output
    assert "SIGKILL" not in output
    assert manager.returncode == 3

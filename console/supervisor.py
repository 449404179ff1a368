"""Running the `make run` processes together: free ports first, optional helpers,
and a stop that leaves nothing behind.

`runstack` checks every port it is about to open before starting anything, so a
taken port is one clear line naming the variable to change, not a traceback in
the middle of five processes' output. And the demo contact center is a helper:
when it stops, the console, worker, beat and simulator keep running.

Stopping: honcho signals each process's whole group, so a Celery worker's pool
processes die under their parent, which then hangs in its pool shutdown until it
is killed. Here only each command's own process gets SIGTERM (commands `exec`, so
that is the program itself, not a shell): a Celery worker then shuts its pool down
itself (a warm shutdown). And every process is tied to its supervisor with Linux's
parent-death signal, so a supervisor killed outright still takes them with it.
"""

import ctypes
import errno
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from honcho.compat import ProcessManager
from honcho.manager import Manager
from honcho.process import Popen, Process


@dataclass(frozen=True)
class ListenPort:
    """A port a process will listen on, and the variable that moves it."""

    host: str
    port: int
    variable: str


class PortInUse(Exception):
    """One or more ports `make run` needs are taken; the message says which variable to set."""


def port_free(host: str, port: int) -> bool:
    """True when a listening socket could be opened on host:port right now."""
    host = host.strip("[]")
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except socket.gaierror:
        return False
    with socket.socket(family, kind, proto) as probe:
        # As the servers themselves do: a socket of a just-stopped run is no obstacle.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return False
    return True


def ports_check(ports: Iterable[ListenPort]) -> None:
    """Raise PortInUse naming every taken port and the variable to change for it."""
    taken = [
        f"Port {p.port} is in use: set {p.variable} to a free port"
        for p in ports
        if not port_free(p.host, p.port)
    ]
    if taken:
        raise PortInUse("; ".join(taken) + ".")


_PR_SET_PDEATHSIG = 1


def _die_with_parent(signum: int) -> None:
    """Ask Linux to send ``signum`` to this process when its parent ends (elsewhere: no-op)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)


class _TiedPopen(Popen):
    """A command that receives SIGTERM (a clean stop) when the process watching it ends."""

    def __init__(self, cmd, **kwargs):
        super().__init__(cmd, preexec_fn=lambda: _die_with_parent(signal.SIGTERM), **kwargs)


class _TiedProcess(Process):
    """honcho's watcher of one command, which itself ends when the supervisor ends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._child_ctor = _TiedPopen

    def run(self, events=None, ignore_signals=False):
        supervisor = os.getppid()
        _die_with_parent(signal.SIGKILL)
        if os.getppid() != supervisor:  # it ended before the tie was made
            os._exit(1)
        super().run(events, ignore_signals)


class _LeaderFirst(ProcessManager):
    """SIGTERM to the command's own process only; SIGKILL, the last resort, to its group."""

    def terminate(self, pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ESRCH):
                raise


# How long a stop waits before SIGKILL. An idle Celery worker on the filesystem broker
# needs about 8 s for its warm shutdown (its loop looks for the stop every 2 s, then
# the pool and timer wind down); honcho's own 5 s would kill it every time.
STOP_GRACE_SECONDS = 9.5


class Supervisor(Manager):
    """honcho's process manager, except that the processes named ``optional`` may stop
    (crash, or find nothing to do) without the others being stopped with them, that a
    stop signals each program rather than its process group and waits
    STOP_GRACE_SECONDS before killing, and that every process ends when the supervisor
    does, however it ends."""

    def __init__(self, printer, *, optional: Iterable[str] = ()):
        super().__init__(printer)
        self.optional = frozenset(optional)
        self._reported: set[str] = set()
        self._process_ctor = _TiedProcess
        self._procmgr = _LeaderFirst()
        self._stop_started: float | None = None

    def terminate(self):
        if self._stop_started is None:
            self._stop_started = time.monotonic()
        super().terminate()

    def kill(self):
        # honcho's loop calls this once its own 5 s have passed; wait for ours instead.
        started = self._stop_started or time.monotonic()
        if time.monotonic() - started >= STOP_GRACE_SECONDS:
            super().kill()

    def _any_stopped(self) -> bool:
        # honcho asks this on every turn of its loop to decide whether to stop everyone.
        for name in self.optional - self._reported:
            returncode = self._processes.get(name, {}).get("returncode")
            if returncode is None:
                continue
            self._reported.add(name)
            if self._terminating or self._required_stopped():
                continue  # stopped with everything else: nothing to explain
            self._system_print(
                f"{name} stopped (rc={returncode}); it is optional, everything else keeps running\n"
            )
            # honcho took the first stopped process's code as the run's own.
            self.returncode = None
        return self._required_stopped()

    def _required_stopped(self) -> bool:
        return any(
            process.get("returncode") is not None
            for name, process in self._processes.items()
            if name not in self.optional
        )

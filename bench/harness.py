"""The end-to-end harness: ACD receiver, gunicorn, the scenario, and a worker when asked.

Built once (lazily) for the rows that need the running product, torn down by
:meth:`Harness.close`. A failed build is remembered, so the next row fails at
once with the same cause instead of trying again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench import scenario
from bench.receiver import AcdReceiver
from bench.simulator import Simulator
from bench.stack import Process, Stack


@dataclass
class Running:
    sim: Simulator
    stack: Stack
    receiver: AcdReceiver
    scenario: scenario.Scenario
    worker: Process | None = None

    def ensure_worker(self) -> None:
        """Start the Celery worker (once)."""
        if self.worker is None:
            self.worker = self.stack.start_worker()


@dataclass
class Harness:
    sim: Simulator
    log_dir: Path
    agents: int
    running: Running | None = None
    failure: Exception | None = None
    _parts: list = field(default_factory=list)

    def ensure(self) -> Running:
        """The running harness, built on first use. Raises what the build raised."""
        if self.running is not None:
            return self.running
        if self.failure is not None:
            raise RuntimeError(f"the harness could not be built: {self.failure}")
        try:
            receiver = AcdReceiver(scenario.ACD_SECRET).start()
            self._parts.append(receiver)
            stack = Stack(self.log_dir)
            self._parts.append(stack)
            stack.start_web()
            built = scenario.build(
                self.sim, agents=self.agents, web_url=stack.web_url, acd_url=receiver.url
            )
        except Exception as exc:
            self.failure = exc
            raise
        self.running = Running(self.sim, stack, receiver, built)
        return self.running

    def close(self) -> None:
        """Stop the worker, gunicorn and the receiver; drop queued tasks and the scenario."""
        for part in reversed(self._parts):
            part.stop()
        self._parts.clear()
        if self.running is not None:
            scenario.remove(self.running.scenario)
            self.running = None

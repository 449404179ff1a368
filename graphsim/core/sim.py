"""The simulator's shared context: state, signing key, saved tenants,
throttling, faults and the call log, plus what the Graph areas add to it
(their services, housekeeping chores and reactions to directory changes).

This module knows no area: graphsim.app hands it the registered ``Area`` list.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from graphsim.core.call import Result
from graphsim.core.certs import SigningKey, load_signing_key
from graphsim.core.errors import GraphError, iso7
from graphsim.core.persist import TenantFiles
from graphsim.core.state import Store, Tenant

Handler = Callable[..., Result]
GraphRoute = tuple[str, str, Handler]
UserReaction = Callable[["Sim", Tenant, str], None]
ServiceT = TypeVar("ServiceT")


class Service:
    """Base class for an area's own state and threads, one per simulator.

    ``start`` runs when the server starts serving, ``stop`` when it stops.
    """

    def start(self) -> None:
        """Start background work (none by default)."""

    def stop(self) -> None:
        """Stop background work (none by default)."""


@dataclass(frozen=True)
class Area:
    """What one Graph area adds to the simulator.

    ``routes``: (method, path pattern relative to ``/v1.0``, handler); a
    handler is called as ``handler(sim, call, **path_params)`` and returns a
    Result. ``services``: factories of the area's own state, looked up later
    with ``sim.service(kind)``. ``chores``: run every housekeeping tick and
    whenever the control API moves the clock. ``user_removed`` and
    ``user_disabled``: reactions to those directory changes (caller holds the
    tenant lock). ``tenant_removed``: forget a tenant that is going away.
    """

    name: str
    routes: Sequence[GraphRoute] = ()
    services: Sequence[Callable[[Sim], Service]] = ()
    chores: Sequence[Callable[[Sim], None]] = ()
    user_removed: Sequence[UserReaction] = ()
    user_disabled: Sequence[UserReaction] = ()
    tenant_removed: Sequence[Callable[[Sim, Tenant], None]] = ()


@dataclass
class Fault:
    """An injected failure for requests whose path matches ``match``."""

    id: int
    match: re.Pattern[str]
    status: int | None
    retry_after: float | None
    delay_ms: int
    times: int | None
    method: str | None
    code: str | None
    message: str | None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "match": self.match.pattern,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "times": self.times,
            "method": self.method,
        }


class Sim:
    """Everything a handler needs. One per server process."""

    def __init__(self, data_dir: Path, areas: Sequence[Area] = ()) -> None:
        self.data_dir = data_dir
        self.areas = tuple(areas)
        self.store = Store()
        self.tenant_files = TenantFiles(self.store, data_dir)
        self.loaded_tenants = self.tenant_files.load()
        self.key: SigningKey = load_signing_key(data_dir)
        self.calls: deque[dict[str, Any]] = deque(maxlen=200_000)
        self._faults: list[Fault] = []
        self._fault_seq = 0
        self._windows: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="graphsim-housekeeping", daemon=True
        )
        self._services: dict[type, object] = {}
        for area in self.areas:
            for make in area.services:
                self.add_service(make(self))

    def add_service(self, service: object) -> None:
        """Keep ``service`` for ``service(type(service))``; one of each kind."""
        self._services[type(service)] = service

    def service(self, kind: type[ServiceT]) -> ServiceT:
        """The simulator's one ``kind`` (an area's registry, the Graph router…)."""
        return cast(ServiceT, self._services[kind])

    def start(self) -> None:
        """Start the areas' services and the housekeeping thread."""
        for service in self._services.values():
            if isinstance(service, Service):
                service.start()
        self._housekeeper.start()

    def stop(self) -> None:
        """Stop the background threads and save the tenants that changed."""
        self._stop.set()
        for service in self._services.values():
            if isinstance(service, Service):
                service.stop()
        self.tenant_files.save()

    def tick(self) -> None:
        """Run every area's chores (expiring presence, subscriptions…)."""
        for area in self.areas:
            for chore in area.chores:
                chore(self)

    def _housekeeping(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.tick()
                self.tenant_files.save()
            except Exception:
                # Keep the thread alive whatever happens; the log says what broke.
                logging.getLogger("graphsim").exception("housekeeping failed")

    # --- throttling and faults ------------------------------------------------------

    def throttle(self, key: tuple[str, ...], limit: int, window: float) -> None:
        """Count one call against ``key``; raises GraphError 429 with Retry-After
        when ``limit`` calls were already made in the last ``window`` seconds."""
        now = time.monotonic()
        with self._lock:
            calls = self._windows.setdefault(key, deque())
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= limit:
                wait = max(1, math.ceil(calls[0] + window - now))
                raise GraphError(
                    429,
                    "TooManyRequests",
                    "Too many requests.",
                    headers={"Retry-After": str(wait)},
                )
            calls.append(now)

    def add_fault(self, spec: dict[str, Any]) -> Fault:
        """Register a fault from the control API body; raises ValueError if invalid."""
        with self._lock:
            self._fault_seq += 1
            fault = Fault(
                id=self._fault_seq,
                match=re.compile(str(spec.get("match") or ".*")),
                status=int(spec["status"]) if spec.get("status") else None,
                retry_after=float(spec["retry_after"])
                if spec.get("retry_after") is not None
                else None,
                delay_ms=int(spec.get("delay_ms") or 0),
                times=int(spec["times"]) if spec.get("times") is not None else None,
                method=str(spec["method"]).upper() if spec.get("method") else None,
                code=spec.get("code"),
                message=spec.get("message"),
            )
            self._faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        """Forget every fault."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request (using up one of its ``times``)."""
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method != method:
                    continue
                if not fault.match.search(path):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def record_call(self, entry: dict[str, Any]) -> None:
        """Append to the call log read by ``GET /_sim/calls``."""
        # The log uses real time (not the simulated clock) so `since` filters work.
        entry["_ts"] = time.time()
        entry["time"] = iso7(datetime.now(UTC))
        self.calls.append(entry)

    # --- reactions -------------------------------------------------------------------

    def remove_user(self, tenant: Tenant, user_id: str, reason: str) -> None:
        """Delete a user (caller holds the tenant lock), leaving a tombstone with
        ``reason`` for delta; every area then forgets the user."""
        tenant.remove_user(user_id, reason)
        for area in self.areas:
            for react in area.user_removed:
                react(self, tenant, user_id)

    def user_disabled(self, tenant: Tenant, user_id: str) -> None:
        """Tell every area that an account was disabled (caller holds the tenant lock)."""
        for area in self.areas:
            for react in area.user_disabled:
                react(self, tenant, user_id)

    def remove_tenant(self, tenant: Tenant) -> None:
        """Let every area forget ``tenant``, then remove it from the store."""
        for area in self.areas:
            for forget in area.tenant_removed:
                forget(self, tenant)
        self.store.remove_tenant(tenant)

"""The simulator's shared context: state, keys, subscriptions, notifier,
throttling, faults and the call log, plus the cross-cutting reactions
(presence changed → notify; user removed → end its subscriptions)."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graphsim.certs import SigningKey, load_signing_key
from graphsim.errors import GraphError, iso7, utcnow
from graphsim.identity import TokenService
from graphsim.notify import Delivery, Notifier, encrypt_content
from graphsim.persist import TenantFiles
from graphsim.state import Store, Tenant
from graphsim.subscriptions import Registry, Subscription
from graphsim.tokens import validation_token

LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


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

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.store = Store()
        self.tenant_files = TenantFiles(self.store, data_dir)
        self.loaded_tenants = self.tenant_files.load()
        self.key: SigningKey = load_signing_key(data_dir)
        self.tokens = TokenService(self.store, self.key)
        self.registry = Registry()
        self.notifier = Notifier(lambda tid, cid: validation_token(self.key, tid, cid))
        self.calls: deque[dict[str, Any]] = deque(maxlen=200_000)
        self._faults: list[Fault] = []
        self._fault_seq = 0
        self._windows: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="graphsim-housekeeping", daemon=True
        )

    def start(self) -> None:
        """Start the notification and housekeeping threads."""
        self.notifier.start()
        self._housekeeper.start()

    def stop(self) -> None:
        """Stop the background threads and save the tenants that changed."""
        self._stop.set()
        self.notifier.stop()
        self.tenant_files.save()

    def _housekeeping(self) -> None:
        from graphsim import presence

        while not self._stop.wait(0.5):
            try:
                presence.expire_all(self)
                self.registry.drop_expired()
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

    def presence_changed(self, tenant: Tenant, user_id: str, presence: dict[str, Any]) -> None:
        """Queue a change notification for every subscription watching the user."""
        for sub in self.registry.watching(tenant.id, user_id):
            resource = f"communications/presences('{user_id}')"
            item: dict[str, Any] = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": iso7(sub.expiration),
                "changeType": "updated",
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.presence",
                    "@odata.id": resource,
                    "id": user_id,
                },
                "clientState": sub.client_state,
                "tenantId": tenant.id,
            }
            if sub.include_resource_data and sub.public_key is not None:
                content = {"@odata.type": "#Microsoft.Graph.presence", "@odata.id": resource}
                content.update(presence)
                item["encryptedContent"] = encrypt_content(
                    sub.public_key, sub.certificate_id or "", sub.thumbprint or "", content
                )
            self.notifier.enqueue(
                Delivery(
                    sub.notification_url, item, tenant.id, sub.client_id, sub.include_resource_data
                )
            )

    def lifecycle(self, sub: Subscription, event: str) -> bool:
        """Send a lifecycle event for ``sub`` (``subscriptionRemoved`` also removes
        it). Returns False when the subscription has no lifecycle URL."""
        if event == "subscriptionRemoved":
            self.registry.remove(sub.id)
        if not sub.lifecycle_url:
            return False
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": iso7(sub.expiration),
            "tenantId": sub.tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        self.notifier.enqueue(
            Delivery(sub.lifecycle_url, item, sub.tenant_id, sub.client_id, False)
        )
        return True

    def remove_user(self, tenant: Tenant, user_id: str, reason: str) -> None:
        """Delete a user (caller holds the tenant lock); subscriptions watching only
        that user, or created by them, are removed with ``subscriptionRemoved``."""
        tenant.remove_user(user_id, reason)
        for sub in self.registry.of_tenant(tenant.id):
            if sub.delegated_user == user_id or sub.user_ids == frozenset({user_id}):
                self.lifecycle(sub, "subscriptionRemoved")
            elif user_id in sub.user_ids:
                sub.user_ids = sub.user_ids - {user_id}

    def user_disabled(self, tenant: Tenant, user_id: str) -> None:
        """A disabled account loses the subscriptions it created."""
        for sub in self.registry.of_tenant(tenant.id):
            if sub.delegated_user == user_id:
                self.lifecycle(sub, "subscriptionRemoved")


def now_iso() -> str:
    """The current time as Graph writes it (seven fractional digits)."""
    return iso7(utcnow())

"""The directory on disk: one JSON file per tenant under ``<data dir>/tenants/``.

A restart must not lose what clients made (users created through Graph with
their passwords, apps and secrets, groups, deletions, chats and their
messages), or a console that created service accounts finds them gone (AADSTS50034). Each tenant is
rewritten whole, atomically, shortly after it changes and once more on
shutdown; files are readable by their owner only, since they hold passwords
and client secrets.

Not kept: presence (sessions expire within minutes anyway, so a restart looks
like everyone signing out; its sequence numbers keep growing, though),
subscriptions (Graph's presence subscriptions last at most an hour and clients
renew or recreate them, which is what they must do after an outage anyway),
refresh tokens (a restart revokes sessions; clients sign in again) and the call log.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from graphsim.core.chats import chats_from_json, chats_json
from graphsim.core.state import App, Group, Secret, Store, Tenant, Tombstone, User

FORMAT = 1
FOLDER = "tenants"
# Presence sequence numbers must keep growing across a restart (clients drop a
# notification older than the last one they saw), but saving on every presence
# change would rewrite the tenant constantly. So a file holds a mark this far
# ahead of the counter, a restart resumes from the mark, and the file is
# rewritten when the counter gets halfway there.
SEQUENCE_RESERVE = 100_000


class StateError(Exception):
    """A saved tenant file cannot be read; the message names the file."""


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    """Everything kept of ``tenant`` (caller holds its lock)."""
    return {
        "format": FORMAT,
        "id": tenant.id,
        "name": tenant.name,
        "domain": tenant.domain,
        "version": tenant.version,
        "presence_sequence": tenant.presence_sequence + SEQUENCE_RESERVE,
        "users": [
            {
                # Copies: the file is written after the lock is released.
                "props": dict(user.props),
                "password": user.password,
                "force_change": user.force_change,
                "mfa_required": user.mfa_required,
                "version": user.version,
                "roles": list(user.roles),
            }
            for user in tenant.users.values()
        ],
        "apps": [
            {
                "client_id": app.client_id,
                "object_id": app.object_id,
                "sp_object_id": app.sp_object_id,
                "display_name": app.display_name,
                "permissions": list(app.permissions),
                "delegated": list(app.delegated),
                "sign_in_audience": app.sign_in_audience,
                "redirect_uris": list(app.redirect_uris),
                "secrets": [
                    {
                        "key_id": s.key_id,
                        "value": s.value,
                        "display_name": s.display_name,
                        "start": s.start.isoformat(),
                        "end": s.end.isoformat(),
                    }
                    for s in app.secrets
                ],
            }
            for app in tenant.apps.values()
        ],
        "groups": [
            {"id": g.id, "display_name": g.display_name, "members": list(g.members)}
            for g in tenant.groups.values()
        ],
        "tombstones": [
            {"id": t.id, "version": t.version, "reason": t.reason} for t in tenant.tombstones
        ],
        "chats": chats_json(tenant.chats),
        "security_defaults": tenant.security_defaults,
    }


def tenant_from_json(data: dict[str, Any]) -> Tenant:
    """Rebuild a tenant from :func:`tenant_json`; raises KeyError/TypeError/ValueError."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown format {data.get('format')!r}")
    tenant = Tenant(data["id"], data["name"], data["domain"])
    for item in data["users"]:
        user = User(
            id=item["props"]["id"],
            props=item["props"],
            password=item["password"],
            force_change=bool(item["force_change"]),
            mfa_required=bool(item["mfa_required"]),
            version=int(item["version"]),
            roles=list(item.get("roles", [])),
        )
        tenant.users[user.id] = user
        tenant.upn_index[user.upn.lower()] = user.id
    for item in data["apps"]:
        secrets = [
            Secret(
                key_id=s["key_id"],
                value=s["value"],
                display_name=s["display_name"],
                start=datetime.fromisoformat(s["start"]),
                end=datetime.fromisoformat(s["end"]),
            )
            for s in item["secrets"]
        ]
        tenant.apps[item["client_id"]] = App(
            client_id=item["client_id"],
            object_id=item["object_id"],
            sp_object_id=item["sp_object_id"],
            display_name=item["display_name"],
            permissions=list(item["permissions"]),
            delegated=list(item["delegated"]),
            secrets=secrets,
            sign_in_audience=str(item.get("sign_in_audience", "AzureADMyOrg")),
            redirect_uris=list(item.get("redirect_uris", [])),
        )
    for item in data["groups"]:
        tenant.groups[item["id"]] = Group(item["id"], item["display_name"], list(item["members"]))
    tenant.tombstones = [
        Tombstone(t["id"], int(t["version"]), t["reason"]) for t in data["tombstones"]
    ]
    # Files written before chats were kept have none.
    tenant.chats = chats_from_json(data.get("chats", []))
    tenant.security_defaults = bool(data.get("security_defaults", False))
    tenant.version = int(data["version"])
    tenant.presence_sequence = int(data["presence_sequence"])
    return tenant


def _write_atomically(path: Path, text: str) -> None:
    # Write-then-rename: a crash leaves the old file or the new one, never half of one.
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


class TenantFiles:
    """Loads the saved tenants into a store and saves the ones that changed."""

    def __init__(self, store: Store, data_dir: Path) -> None:
        self.store = store
        self.folder = data_dir / FOLDER
        # tenant id -> (revision, presence sequence mark) on disk
        self._saved: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def load(self) -> int:
        """Add every saved tenant to the store; returns how many.

        Raises StateError for a file that is not a saved tenant, rather than
        starting without it and overwriting it later.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        for leftover in self.folder.glob(".*.tmp"):
            leftover.unlink()  # a save interrupted by a crash; the previous file stands
        count = 0
        for path in sorted(self.folder.glob("*.json")):
            try:
                tenant = tenant_from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise StateError(
                    f"cannot read the saved tenant {path} ({type(exc).__name__}: {exc}). "
                    "Move the file out of the folder to start without that tenant."
                ) from None
            self.store.add_tenant(tenant)
            self._saved[tenant.id] = (tenant.revision, tenant.presence_sequence)
            count += 1
        return count

    def _stale(self, tenant: Tenant) -> bool:
        saved = self._saved.get(tenant.id)
        return (
            saved is None
            or saved[0] != tenant.revision
            or tenant.presence_sequence + SEQUENCE_RESERVE // 2 > saved[1]
        )

    def unsaved(self) -> int:
        """How many tenants differ from their files (changed, new or removed)."""
        tenants = self.store.all_tenants()
        present = {t.id for t in tenants}
        with self._lock:
            changed = sum(1 for t in tenants if self._stale(t))
            return changed + sum(1 for tid in self._saved if tid not in present)

    def save(self) -> int:
        """Write the tenants that changed and delete the files of removed ones;
        returns how many files were written or deleted."""
        with self._lock:
            done = 0
            present = set()
            for tenant in self.store.all_tenants():
                present.add(tenant.id)
                if not self._stale(tenant):
                    continue
                with tenant.lock:
                    revision = tenant.revision
                    data = tenant_json(tenant)
                self.folder.mkdir(parents=True, exist_ok=True)
                _write_atomically(self.folder / f"{tenant.id}.json", json.dumps(data))
                self._saved[tenant.id] = (revision, data["presence_sequence"])
                done += 1
            for tenant_id in [tid for tid in self._saved if tid not in present]:
                (self.folder / f"{tenant_id}.json").unlink(missing_ok=True)
                del self._saved[tenant_id]
                done += 1
            return done

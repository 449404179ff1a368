"""Control API handlers for mail: an outside sender mails a mailbox (with
attachments), a user loses or regains their Exchange mailbox, an application access
policy restricts an app to some mailboxes, and reading what mailboxes hold and what
left the tenant."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from graphsim.control.common import (
    ID,
    TENANT,
    ControlError,
    ControlRoute,
    base64_of,
    body_of,
    route,
    tenant_of,
)
from graphsim.core.sim import Sim
from graphsim.core.state import Tenant, User
from graphsim.mail.messages import deliver, message_json
from graphsim.mail.store import Attachment, find_recipient, mail_state, opaque_id


def _user(tenant: Tenant, ident: str) -> User:
    user = find_recipient(tenant, ident)
    if user is None:
        raise ControlError(404, f"no user {ident}")
    return user


def _address(value: Any, what: str) -> dict[str, str]:
    if isinstance(value, str):
        value = {"address": value}
    if not isinstance(value, dict) or "@" not in str(value.get("address") or ""):
        raise ControlError(400, f"{what} must be an address or {{address, name}}")
    return {"address": str(value["address"]), "name": str(value.get("name") or "")}


def _attachment(spec: Any) -> Attachment:
    data = base64_of(spec, "attachment", '{"name", "content_type", "base64"}')
    return Attachment(
        opaque_id("AAMkAGA"),
        str(spec.get("name") or "attachment.bin"),
        str(spec.get("content_type") or "application/octet-stream"),
        data,
    )


def deliver_message(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    """An outside sender (``from``) mails mailbox ``u``: ``subject``, ``text`` or ``html``,
    optional ``cc``, ``attachments`` and ``internet_message_id``. Subscriptions on the
    inbox are notified. Returns the inbox copy as Graph shows it."""
    body = body_of(req)
    tenant = tenant_of(sim, t)
    text, markup = body.get("text"), body.get("html")
    if text is not None and markup is not None:
        raise ControlError(400, "give at most one of text or html")
    state = mail_state(sim)
    with tenant.lock:
        user = _user(tenant, u)
        mail = state.of(tenant)
        if user.id in mail.without_mailbox:
            raise ControlError(409, f"user {u} has no mailbox")
        own = {
            "address": str(user.props.get("mail") or user.upn),
            "name": str(user.props.get("displayName") or ""),
        }
        landed = deliver(
            tenant,
            mail,
            sender=_address(body.get("from") or "customer@example.net", "from"),
            to=[own],
            cc=[_address(c, "cc") for c in body.get("cc") or []],
            subject=str(body.get("subject") or ""),
            body_type="text" if markup is None else "html",
            body=str(markup) if markup is not None else str(text or ""),
            attachments=[_attachment(a) for a in body.get("attachments") or []],
            internet_message_id=str(body.get("internet_message_id") or ""),
            on_arrival=lambda tn, box, message: state.arrived(sim, tn, box, message),
        )
        mine = next((m for m in landed if m.id in mail.mailbox(user.id).messages), None)
        if mine is None:
            raise ControlError(
                409, "the mailbox already holds a message with that internetMessageId"
            )
        return 201, message_json(mine, req.host_url.rstrip("/") + "/v1.0", user.id)


def list_messages(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    """Every message of mailbox ``u`` with its folder's name, newest first."""
    tenant = tenant_of(sim, t)
    with tenant.lock:
        user = _user(tenant, u)
        box = mail_state(sim).of(tenant).mailbox(user.id)
        graph_base = req.host_url.rstrip("/") + "/v1.0"
        items = sorted(box.messages.values(), key=lambda m: (m.received, m.version), reverse=True)
        return 200, {
            "value": [
                {
                    **message_json(m, graph_base, user.id),
                    "folder": box.folders[m.folder_id].well_known
                    or box.folders[m.folder_id].display_name,
                    "attachments": [{"name": a.name, "size": len(a.data)} for a in m.attachments],
                }
                for m in items
            ]
        }


def set_mailbox(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    """``{"enabled": false}``: the user has no Exchange Online mailbox (no licence);
    ``{"folders": ["Handled"]}`` adds folders. Returns the mailbox's state."""
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        user = _user(tenant, u)
        mail = mail_state(sim).of(tenant)
        if "enabled" in body:
            if body["enabled"]:
                mail.without_mailbox.discard(user.id)
            else:
                mail.without_mailbox.add(user.id)
        box = mail.mailbox(user.id)
        for name in body.get("folders") or []:
            if not any(f.display_name == name for f in box.folders.values()):
                box.add_folder(str(name))
        return 200, {
            "user": user.id,
            "enabled": user.id not in mail.without_mailbox,
            "folders": [{"id": f.id, "displayName": f.display_name} for f in box.folders.values()],
        }


def set_access_policy(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    """``{"mailboxes": [...]}``: like ``New-ApplicationAccessPolicy -AccessRight
    RestrictAccess``, app ``c`` may open only these mailboxes from now on."""
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        if c not in tenant.apps:
            raise ControlError(404, f"no app {c}")
        allowed = {_user(tenant, str(m)).id for m in body.get("mailboxes") or []}
        mail_state(sim).of(tenant).policies[c] = allowed
        return 200, {"app": c, "access_right": "RestrictAccess", "mailboxes": sorted(allowed)}


def clear_access_policy(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    with tenant.lock:
        mail_state(sim).of(tenant).policies.pop(c, None)
        return 200, {"app": c, "access_right": None}


def outbound(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    """Messages sent to addresses outside the tenant, oldest first."""
    tenant = tenant_of(sim, t)
    with tenant.lock:
        return 200, {"value": list(mail_state(sim).of(tenant).outbound)}


_T = rf"/_sim/tenants/{TENANT}"
_U = r"(?P<u>[^/]+)"
ROUTES: list[ControlRoute] = [
    route("POST", rf"{_T}/mailboxes/{_U}/messages", deliver_message),
    route("GET", rf"{_T}/mailboxes/{_U}/messages", list_messages),
    route("POST", rf"{_T}/mailboxes/{_U}", set_mailbox),
    route("PUT", rf"{_T}/apps/(?P<c>{ID})/access-policy", set_access_policy),
    route("DELETE", rf"{_T}/apps/(?P<c>{ID})/access-policy", clear_access_policy),
    route("GET", rf"{_T}/mail/outbound", outbound),
]

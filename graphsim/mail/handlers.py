"""Graph's mail routes: folders, messages, attachments, sendMail, reply, mark read,
move, delete and the inbox delta query.

Rules (docs/graph.md, "Mail"): mailboxes are addressed by id, userPrincipalName or
SMTP address (``/me`` for a signed-in user); reading needs Mail.Read or
Mail.ReadWrite, changing Mail.ReadWrite, sending Mail.Send; sendMail and reply
answer 202 with no body; a move gives the message a new id (its
internetMessageId stays); lists come newest first.
"""

from __future__ import annotations

from typing import Any

from graphsim.core.call import Call, Result
from graphsim.core.errors import GraphError
from graphsim.core.odata import decode_token, encode_token, link, parse_top
from graphsim.core.sim import Area, GraphRoute, Sim
from graphsim.core.state import Tenant
from graphsim.mail.access import MAIL_READ, MAIL_SEND, MAIL_WRITE, open_mailbox
from graphsim.mail.messages import (
    attachment_json,
    attachments_of,
    deliver,
    message_json,
    recipients_of,
    save_sent,
)
from graphsim.mail.store import Folder, Mailbox, MailMessage, MailState, address_of, mail_state

DEFAULT_PAGE, MAX_PAGE = 10, 1000


def _who(uid: str | None) -> str:
    return f"/users/{uid}" if uid else "/me"


def folder_json(box: Mailbox, folder: Folder) -> dict[str, Any]:
    inside = [m for m in box.messages.values() if m.folder_id == folder.id]
    return {
        "id": folder.id,
        "displayName": folder.display_name,
        "parentFolderId": "AAMkAGRoot",
        "childFolderCount": 0,
        "unreadItemCount": sum(1 for m in inside if not m.is_read),
        "totalItemCount": len(inside),
        "isHidden": False,
    }


def _folder(box: Mailbox, ident: str) -> Folder:
    folder = box.folder(ident)
    if folder is None:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return folder


def _message(box: Mailbox, mid: str) -> MailMessage:
    message = box.messages.get(mid)
    if message is None:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return message


def _project(item: dict[str, Any], call: Call) -> dict[str, Any]:
    raw = call.query.get("$select")
    if not raw:
        return item
    wanted = {p.strip().lower() for p in raw.split(",") if p.strip()} | {"id", "@odata.etag"}
    return {k: v for k, v in item.items() if k.lower() in wanted}


def _page(call: Call, items: list[MailMessage], base_path: str, user_id: str) -> Result:
    top = parse_top(call.query, DEFAULT_PAGE, MAX_PAGE)
    skip = int(call.query.get("$skip") or 0)
    chunk = items[skip : skip + top]
    body: dict[str, Any] = {
        "value": [_project(message_json(m, call.graph_base, user_id), call) for m in chunk]
    }
    if skip + top < len(items):
        params = {k: v for k, v in call.query.items() if k != "$skip"}
        params["$skip"] = str(skip + top)
        body["@odata.nextLink"] = link(call.graph_base, base_path, params)
    return Result(200, body)


# --- folders and messages ---------------------------------------------------------


def list_folders(sim: Sim, call: Call, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, _ = open_mailbox(sim, call, uid, MAIL_READ)
        return Result(200, {"value": [folder_json(box, f) for f in box.folders.values()]})


def get_folder(sim: Sim, call: Call, fid: str, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, _ = open_mailbox(sim, call, uid, MAIL_READ)
        return Result(200, folder_json(box, _folder(box, fid)))


def list_folder_messages(sim: Sim, call: Call, fid: str, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, user = open_mailbox(sim, call, uid, MAIL_READ)
        folder = _folder(box, fid)
        path = f"{_who(uid)}/mailFolders/{fid}/messages"
        return _page(call, box.in_folder(folder.id), path, user.id)


def list_messages(sim: Sim, call: Call, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, user = open_mailbox(sim, call, uid, MAIL_READ)
        items = sorted(box.messages.values(), key=lambda m: (m.received, m.version), reverse=True)
        return _page(call, items, f"{_who(uid)}/messages", user.id)


def get_message(sim: Sim, call: Call, mid: str, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, user = open_mailbox(sim, call, uid, MAIL_READ)
        return Result(
            200, _project(message_json(_message(box, mid), call.graph_base, user.id), call)
        )


def patch_message(sim: Sim, call: Call, mid: str, uid: str | None = None) -> Result:
    """``PATCH …/messages/{id}``: ``isRead`` (and ``subject`` of a draft)."""
    body = call.json_object()
    with call.p.tenant.lock:
        _, box, user = open_mailbox(sim, call, uid, MAIL_WRITE)
        message = _message(box, mid)
        if "isRead" in body:
            if not isinstance(body["isRead"], bool):
                raise GraphError(400, "ErrorInvalidRequest", "isRead must be true or false.")
            message.is_read = body["isRead"]
        box.touch(message)
        return Result(200, message_json(message, call.graph_base, user.id))


def delete_message(sim: Sim, call: Call, mid: str, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, _ = open_mailbox(sim, call, uid, MAIL_WRITE)
        box.remove(_message(box, mid))
        return Result(204)


def move_message(sim: Sim, call: Call, mid: str, uid: str | None = None) -> Result:
    """``POST …/messages/{id}/move`` ``{destinationId}`` → 201, the moved message."""
    body = call.json_object()
    with call.p.tenant.lock:
        _, box, user = open_mailbox(sim, call, uid, MAIL_WRITE)
        message = _message(box, mid)
        destination = str(body.get("destinationId") or "")
        if not destination:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        target = _folder(box, destination)
        moved = box.move(message, target)
        return Result(201, message_json(moved, call.graph_base, user.id))


def list_attachments(sim: Sim, call: Call, mid: str, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, _ = open_mailbox(sim, call, uid, MAIL_READ)
        message = _message(box, mid)
        return Result(200, {"value": [attachment_json(a) for a in message.attachments]})


def get_attachment(sim: Sim, call: Call, mid: str, aid: str, uid: str | None = None) -> Result:
    with call.p.tenant.lock:
        _, box, _ = open_mailbox(sim, call, uid, MAIL_READ)
        message = _message(box, mid)
        found = next((a for a in message.attachments if a.id == aid), None)
        if found is None:
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return Result(200, attachment_json(found))


# --- sending ------------------------------------------------------------------------


def _arrival(sim: Sim):
    state = mail_state(sim)
    return lambda tenant, box, message: state.arrived(sim, tenant, box, message)


def send_mail(sim: Sim, call: Call, uid: str | None = None) -> Result:
    """``POST …/sendMail`` ``{message, saveToSentItems}`` → 202."""
    body = call.json_object()
    message = body.get("message")
    if not isinstance(message, dict):
        raise GraphError(
            400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty."
        )
    to = recipients_of(message.get("toRecipients"), "to")
    cc = recipients_of(message.get("ccRecipients"), "cc")
    bcc = recipients_of(message.get("bccRecipients"), "bcc")
    if not (to or cc or bcc):
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
    attachments = attachments_of(message.get("attachments"))
    content = message.get("body") or {}
    tenant: Tenant = call.p.tenant
    with tenant.lock:
        mail, box, user = open_mailbox(sim, call, uid, MAIL_SEND)
        fields = {
            "sender": address_of(user),
            "to": to,
            "cc": cc,
            "subject": str(message.get("subject") or ""),
            "body_type": "html" if str(content.get("contentType")).lower() == "html" else "text",
            "body": str(content.get("content") or ""),
            "attachments": attachments,
        }
        landed = deliver(tenant, mail, **fields, on_arrival=_arrival(sim))
        for extra in bcc:
            deliver(tenant, mail, **{**fields, "to": [extra], "cc": []}, on_arrival=_arrival(sim))
        if body.get("saveToSentItems", True) is not False:
            first = landed[0] if landed else None
            save_sent(
                box,
                **fields,
                internet_message_id=first.internet_message_id
                if first
                else f"<{box.version}@{tenant.domain}>",
                conversation_id=first.conversation_id if first else "",
            )
        tenant.changed()
    return Result(202)


def reply(sim: Sim, call: Call, mid: str, uid: str | None = None) -> Result:
    """``POST …/messages/{id}/reply`` ``{comment, message?}`` → 202: to the sender, same
    conversation, ``RE:`` subject, the comment above the quoted original."""
    body = call.json_object()
    extra = body.get("message") if isinstance(body.get("message"), dict) else {}
    attachments = attachments_of(extra.get("attachments"))
    tenant: Tenant = call.p.tenant
    with tenant.lock:
        mail, box, user = open_mailbox(sim, call, uid, MAIL_SEND)
        original = _message(box, mid)
        to = recipients_of(extra.get("toRecipients"), "to") or [original.sender]
        subject = (
            original.subject
            if original.subject.lower().startswith("re:")
            else f"RE: {original.subject}"
        )
        comment = str(body.get("comment") or "")
        quoted = f"<div>{comment}</div><hr><div>{original.body}</div>"
        fields = {
            "sender": address_of(user),
            "to": to,
            "cc": recipients_of(extra.get("ccRecipients"), "cc"),
            "subject": subject,
            "body_type": "html",
            "body": quoted,
            "attachments": attachments,
        }
        landed = deliver(
            tenant,
            mail,
            **fields,
            conversation_id=original.conversation_id,
            in_reply_to=original.internet_message_id,
            on_arrival=_arrival(sim),
        )
        save_sent(
            box,
            **fields,
            internet_message_id=landed[0].internet_message_id
            if landed
            else mail.outbound[-1]["internetMessageId"],
            conversation_id=original.conversation_id,
        )
        tenant.changed()
    return Result(202)


# --- delta -------------------------------------------------------------------------


def delta(sim: Sim, call: Call, fid: str, uid: str | None = None) -> Result:
    """``GET …/mailFolders/{id}/messages/delta``: changed and removed messages since
    the deltaLink's round, paged by ``Prefer: odata.maxpagesize`` (default 10)."""
    prefer = call.header("Prefer") or ""
    size = DEFAULT_PAGE
    if "odata.maxpagesize=" in prefer:
        try:
            size = max(1, min(MAX_PAGE, int(prefer.split("odata.maxpagesize=")[1].split(",")[0])))
        except ValueError:
            size = DEFAULT_PAGE
    with call.p.tenant.lock:
        _, box, user = open_mailbox(sim, call, uid, MAIL_READ)
        folder = _folder(box, fid)
        if "$skiptoken" in call.query:
            state = decode_token(call.query["$skiptoken"], "maildelta")
        elif "$deltatoken" in call.query:
            state = decode_token(call.query["$deltatoken"], "maildelta")
            state = {
                "k": "maildelta",
                "f": state["f"],
                "s": state["s"],
                "u": box.version,
                "a": state["s"],
            }
        else:
            state = {"k": "maildelta", "f": folder.id, "s": 0, "u": box.version, "a": 0}
        if state["f"] != folder.id:
            raise GraphError(400, "ErrorInvalidRequest", "The delta token is for another folder.")
        since, upto, after = int(state["s"]), int(state["u"]), int(state["a"])
        changed: list[tuple[int, dict[str, Any]]] = [
            (m.version, _project(message_json(m, call.graph_base, user.id), call))
            for m in box.messages.values()
            if m.folder_id == folder.id and after < m.version <= upto
        ]
        if since:  # a first round lists what is there; later rounds also what left
            changed += [
                (
                    t.version,
                    {
                        "@odata.type": "#microsoft.graph.message",
                        "id": t.id,
                        "@removed": {"reason": "deleted"},
                    },
                )
                for t in box.tombstones
                if t.folder_id == folder.id and after < t.version <= upto
            ]
        changed.sort(key=lambda pair: pair[0])
        chunk = changed[:size]
        path = f"{_who(uid)}/mailFolders/{fid}/messages/delta"
        body: dict[str, Any] = {"value": [item for _, item in chunk]}
        if len(changed) > size:
            token = encode_token({**state, "a": chunk[-1][0]})
            body["@odata.nextLink"] = link(call.graph_base, path, {"$skiptoken": token})
        else:
            token = encode_token({"k": "maildelta", "f": folder.id, "s": upto})
            body["@odata.deltaLink"] = link(call.graph_base, path, {"$deltatoken": token})
        return Result(200, body)


_WHO = r"/(?:users/(?P<uid>[^/]+)|me)"
_FOLDER = r"/mailFolders(?:/(?P<fid>[^/(]+)|\('(?P<fid_q>[^']+)'\))"
_MSG = r"/messages/(?P<mid>[^/]+)"


def _quoted_folder(handler):
    # mailFolders('inbox') and mailFolders/inbox name the same folder.
    def run(sim: Sim, call: Call, fid_q: str | None = None, **params: Any) -> Result:
        if fid_q is not None:
            params["fid"] = fid_q
        return handler(sim, call, **params)

    return run


ROUTES: list[GraphRoute] = [
    ("GET", _WHO + r"/mailFolders", list_folders),
    ("GET", _WHO + _FOLDER + r"/messages/delta", _quoted_folder(delta)),
    ("GET", _WHO + _FOLDER + r"/messages", _quoted_folder(list_folder_messages)),
    ("GET", _WHO + _FOLDER, _quoted_folder(get_folder)),
    ("GET", _WHO + r"/messages", list_messages),
    ("POST", _WHO + r"/sendMail", send_mail),
    ("GET", _WHO + _MSG + r"/attachments/(?P<aid>[^/]+)", get_attachment),
    ("GET", _WHO + _MSG + r"/attachments", list_attachments),
    ("POST", _WHO + _MSG + r"/move", move_message),
    ("POST", _WHO + _MSG + r"/reply", reply),
    ("GET", _WHO + _MSG, get_message),
    ("PATCH", _WHO + _MSG, patch_message),
    ("DELETE", _WHO + _MSG, delete_message),
]


def _tenant_removed(sim: Sim, tenant: Tenant) -> None:
    mail_state(sim).forget(tenant.id)


AREA = Area("mail", routes=ROUTES, services=[MailState], tenant_removed=[_tenant_removed])

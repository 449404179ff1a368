"""Presence: sessions, the user-preferred state, aggregation and the Graph
endpoints that read and set it.

Aggregation (docs/graph.md): a user-preferred state beats every session; between
sessions DoNotDisturb > Busy > Available > Away; expired sessions disappear;
no session at all reads Offline/Offline. Every change of the aggregated value
advances ``sequenceNumber`` and is announced to subscriptions.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from graphsim.core.call import Call, Result
from graphsim.core.errors import GraphError, iso7, utcnow
from graphsim.core.perms import Perms, require
from graphsim.core.sim import Area, Sim
from graphsim.core.state import PresenceRecord, Session, Tenant, is_guid
from graphsim.subscriptions.notify import Delivery, encrypt_content
from graphsim.subscriptions.registry import registry

AVAILABILITY = frozenset(
    ["Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle", "DoNotDisturb",
     "Offline", "PresenceUnknown"]
)  # fmt: skip
ACTIVITY = frozenset(
    ["Available", "Away", "BeRightBack", "Busy", "DoNotDisturb", "InACall", "InAConferenceCall",
     "Inactive", "InAMeeting", "Offline", "OffWork", "OutOfOffice", "PresenceUnknown",
     "Presenting", "UrgentInterruptionsOnly"]
)  # fmt: skip
SESSION_PAIRS = frozenset(
    [("Available", "Available"), ("Busy", "InACall"), ("Busy", "InAConferenceCall"),
     ("Away", "Away"), ("DoNotDisturb", "Presenting")]
)  # fmt: skip
PREFERRED_PAIRS = frozenset(
    [("Available", "Available"), ("Busy", "Busy"), ("DoNotDisturb", "DoNotDisturb"),
     ("BeRightBack", "BeRightBack"), ("Away", "Away"), ("Offline", "OffWork")]
)  # fmt: skip
RANK = {
    "DoNotDisturb": 7, "Busy": 6, "BusyIdle": 5, "Available": 4, "AvailableIdle": 3,
    "BeRightBack": 2, "Away": 1, "Offline": 0, "PresenceUnknown": -1,
}  # fmt: skip
PRESENCE_READ: Perms = (
    ("Presence.Read.All", "Presence.ReadWrite.All"),
    ("Presence.Read.All", "Presence.ReadWrite.All"),
)
PRESENCE_WRITE: Perms = (
    ("Presence.ReadWrite.All",),
    ("Presence.ReadWrite", "Presence.ReadWrite.All"),
)
TEAMS_SESSION = "teams-client"
MAX_IDS = 650
THROTTLE_CALLS, THROTTLE_WINDOW = 1500, 30.0
_DURATION_RE = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: Any) -> timedelta | None:
    """An ISO-8601 duration (``PT5M``, ``PT1H30M``, ``P1D``); None if malformed."""
    if not isinstance(value, str):
        return None
    match = _DURATION_RE.match(value.strip().upper())
    if not match or value.strip().upper() in ("P", "PT"):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def aggregate(record: PresenceRecord, now: datetime) -> tuple[str, str]:
    """Drop expired inputs from ``record`` and return the (availability, activity)
    readers see. Side effect: removes expired sessions and preferred state."""
    for sid in [s for s, v in record.sessions.items() if v.expires_at and v.expires_at <= now]:
        del record.sessions[sid]
    if record.preferred and record.preferred.expires_at and record.preferred.expires_at <= now:
        record.preferred = None
    if not record.sessions:
        # Preferred presence only applies while the user has at least one session.
        return "Offline", "Offline"
    if record.preferred:
        return record.preferred.availability, record.preferred.activity
    best = max(record.sessions.values(), key=lambda s: (RANK.get(s.availability, 0), s.set_at))
    return best.availability, best.activity


def presence_json(user_id: str, record: PresenceRecord | None) -> dict[str, Any]:
    """The Graph presence resource for a user (Offline when never seen)."""
    availability = record.availability if record else "Offline"
    activity = record.activity if record else "Offline"
    return {
        "id": user_id,
        "availability": availability,
        "activity": activity,
        "statusMessage": None,
        "outOfOfficeSettings": {"message": None, "isOutOfOffice": False},
        "sequenceNumber": f"{record.sequence if record else 0:020d}",
    }


def _announce(sim: Sim, tenant: Tenant, user_id: str, presence: dict[str, Any]) -> None:
    """Queue a change notification for every subscription watching the user."""
    subs = registry(sim)
    for sub in subs.watching(tenant.id, user_id):
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
        subs.notifier.enqueue(
            Delivery(
                sub.notification_url, item, tenant.id, sub.client_id, sub.include_resource_data
            )
        )


def refresh(sim: Sim, tenant: Tenant, user_id: str) -> dict[str, Any]:
    """Recompute a user's presence (caller holds the tenant lock).

    Side effects: when the aggregated value changed, advances its
    sequenceNumber and queues change notifications. Returns the presence.
    """
    record = tenant.presence.get(user_id)
    if record is None:
        return presence_json(user_id, None)
    availability, activity = aggregate(record, utcnow())
    if (availability, activity) != (record.availability, record.activity):
        tenant.presence_sequence += 1
        record.availability, record.activity = availability, activity
        record.sequence = tenant.presence_sequence
        _announce(sim, tenant, user_id, presence_json(user_id, record))
    return presence_json(user_id, record)


def expire_all(sim: Sim) -> None:
    """Housekeeping: drop expired sessions everywhere and announce the changes."""
    now = utcnow()
    for tenant in sim.store.all_tenants():
        with tenant.lock:
            for user_id, record in list(tenant.presence.items()):
                expiring = [s.expires_at for s in record.sessions.values() if s.expires_at]
                if record.preferred and record.preferred.expires_at:
                    expiring.append(record.preferred.expires_at)
                if any(t <= now for t in expiring):
                    refresh(sim, tenant, user_id)


def teams_act(
    sim: Sim,
    tenant: Tenant,
    user_id: str,
    availability: str,
    activity: str,
    preferred: bool = False,
) -> dict[str, Any]:
    """The user acting in Teams (control API). Caller holds the tenant lock.

    Not preferred: sets the user's Teams client session to the pair (Offline
    signs the client out). Preferred: sets the hand-picked state, signing the
    client in (Available) if it was not. Raises GraphError 400 for unknown values.
    """
    if availability not in AVAILABILITY or activity not in ACTIVITY:
        raise _bad(f"Unknown availability '{availability}' or activity '{activity}'.")
    record = tenant.presence.setdefault(user_id, PresenceRecord())
    now = utcnow()
    if preferred:
        record.preferred = Session(availability, activity, None, now)
        record.sessions.setdefault(TEAMS_SESSION, Session("Available", "Available", None, now))
    elif availability == "Offline":
        record.sessions.pop(TEAMS_SESSION, None)
        record.preferred = None
    else:
        record.sessions[TEAMS_SESSION] = Session(availability, activity, None, now)
    return refresh(sim, tenant, user_id)


def _target(call: Call, uid: str | None, write: bool) -> str:
    """Resolve the user whose presence is addressed and check permissions."""
    tenant = call.p.tenant
    user_id = uid or call.p.user_id
    if user_id is None:
        raise _bad("/me request is only valid with delegated authentication flow.")
    user = tenant.find_user(user_id)
    if user is None:
        raise GraphError(404, "NotFound", f"User '{user_id}' was not found.")
    own = call.p.user_id == user.id
    if write:
        if call.p.kind == "user" and not own:
            raise GraphError(
                403, "Authorization_RequestDenied", "Cannot set presence of other users."
            )
        require(call, PRESENCE_WRITE)
    elif not (own and "Presence.Read" in call.p.scopes):
        require(call, PRESENCE_READ)
    return user.id


def get_presence(sim: Sim, call: Call, uid: str | None = None) -> Result:
    """``GET /users/{id}/presence``, ``/me/presence``, ``/communications/presences/{id}``."""
    tenant = call.p.tenant
    with tenant.lock:
        user_id = _target(call, uid, write=False)
        body = refresh(sim, tenant, user_id)
    context = {"@odata.context": f"{call.graph_base}/$metadata#communications/presences/$entity"}
    return Result(200, {**context, **body})


def _presences(sim: Sim, call: Call, ids: Any) -> Result:
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise _bad("The request must contain a non-empty 'ids' array.")
    if len(ids) > MAX_IDS:
        raise _bad(f"The number of ids must not exceed {MAX_IDS}.")
    bad = [i for i in ids if not is_guid(i)]
    if bad:
        raise _bad(f"Invalid user id '{bad[0]}'.")
    require(call, PRESENCE_READ)
    tenant = call.p.tenant
    sim.throttle((tenant.id, call.p.client_id, "presences"), THROTTLE_CALLS, THROTTLE_WINDOW)
    value = []
    with tenant.lock:
        for user_id in dict.fromkeys(i.lower() for i in ids):
            if user_id in tenant.users:
                value.append(refresh(sim, tenant, user_id))
            else:
                unknown = presence_json(user_id, None)
                unknown.update(availability="PresenceUnknown", activity="PresenceUnknown")
                value.append(unknown)
    context = f"{call.graph_base}/$metadata#Collection(microsoft.graph.presence)"
    return Result(200, {"@odata.context": context, "value": value})


def get_presences_by_user_id(sim: Sim, call: Call) -> Result:
    """``POST /communications/getPresencesByUserId`` (≤ 650 ids; 1,500 calls per
    30 s per app per tenant, then 429 with Retry-After)."""
    return _presences(sim, call, call.json_object().get("ids"))


def list_presences(sim: Sim, call: Call) -> Result:
    """``GET /communications/presences?$filter=id in ('a','b')``."""
    text = call.query.get("$filter", "")
    match = re.fullmatch(r"\s*id\s+in\s*\((.*)\)\s*", text, re.IGNORECASE)
    if not match:
        raise GraphError(400, "BadRequest", "Only the filter \"id in ('…')\" is supported.")
    ids = [p.strip().strip("'") for p in match.group(1).split(",") if p.strip()]
    return _presences(sim, call, ids)


def set_presence(sim: Sim, call: Call, uid: str | None = None) -> Result:
    """``POST …/presence/setPresence``: an app session with a settable pair,
    sessionId = the caller's client id, expirationDuration PT5M..PT4H (default PT5M)."""
    body = call.json_object()
    tenant = call.p.tenant
    session_id = str(body.get("sessionId") or "")
    pair = (body.get("availability"), body.get("activity"))
    if not session_id:
        raise _bad("The sessionId is required.")
    if session_id.lower() != call.p.client_id:
        raise _bad("The sessionId must be the application id of the caller.")
    if pair not in SESSION_PAIRS:
        raise _bad(f"The presence combination {pair[0]}/{pair[1]} cannot be set by setPresence.")
    duration = timedelta(minutes=5)
    if body.get("expirationDuration") is not None:
        parsed = parse_duration(body["expirationDuration"])
        if parsed is None:
            raise _bad("The expirationDuration must be an ISO 8601 duration.")
        if not timedelta(minutes=5) <= parsed <= timedelta(hours=4):
            # Graph's own code and words (docs/graph.md, "Presence").
            raise GraphError(
                400, "InvalidArgument", "The provided [ExpirationDuration] is out of range."
            )
        duration = parsed
    with tenant.lock:
        user_id = _target(call, uid, write=True)
        now = utcnow()
        record = tenant.presence.setdefault(user_id, PresenceRecord())
        record.sessions[session_id.lower()] = Session(pair[0], pair[1], now + duration, now)
        refresh(sim, tenant, user_id)
    return Result(200)


def clear_presence(sim: Sim, call: Call, uid: str | None = None) -> Result:
    """``POST …/presence/clearPresence``: ends the app's session (404 if none)."""
    body = call.json_object()
    tenant = call.p.tenant
    session_id = str(body.get("sessionId") or "").lower()
    if session_id != call.p.client_id:
        raise _bad("The sessionId must be the application id of the caller.")
    with tenant.lock:
        user_id = _target(call, uid, write=True)
        record = tenant.presence.get(user_id)
        if record is not None:
            aggregate(record, utcnow())
        if record is None or session_id not in record.sessions:
            raise GraphError(404, "NotFound", f"Presence session '{session_id}' was not found.")
        del record.sessions[session_id]
        refresh(sim, tenant, user_id)
    return Result(200)


def set_preferred(sim: Sim, call: Call, uid: str | None = None) -> Result:
    """``POST …/presence/setUserPreferredPresence`` with one of its allowed pairs."""
    body = call.json_object()
    pair = (body.get("availability"), body.get("activity"))
    if pair not in PREFERRED_PAIRS:
        raise _bad(f"The presence combination {pair[0]}/{pair[1]} cannot be set as preferred.")
    if body.get("expirationDuration") is not None:
        duration = parse_duration(body["expirationDuration"])
        if duration is None or duration <= timedelta(0):
            raise _bad("The expirationDuration must be an ISO 8601 duration.")
    else:
        # Without a duration Teams keeps Busy/DoNotDisturb a day, the rest a week.
        duration = timedelta(days=1 if pair[0] in ("Busy", "DoNotDisturb") else 7)
    tenant = call.p.tenant
    with tenant.lock:
        user_id = _target(call, uid, write=True)
        now = utcnow()
        record = tenant.presence.setdefault(user_id, PresenceRecord())
        record.preferred = Session(pair[0], pair[1], now + duration, now)
        refresh(sim, tenant, user_id)
    return Result(200)


def clear_preferred(sim: Sim, call: Call, uid: str | None = None) -> Result:
    """``POST …/presence/clearUserPreferredPresence``."""
    tenant = call.p.tenant
    with tenant.lock:
        user_id = _target(call, uid, write=True)
        record = tenant.presence.get(user_id)
        if record is not None:
            record.preferred = None
            refresh(sim, tenant, user_id)
    return Result(200)


_ME_OR_USER = r"(?:/users/(?P<uid>[^/]+)|/me)"
AREA = Area(
    "presence",
    routes=[
        ("GET", _ME_OR_USER + r"/presence", get_presence),
        ("POST", _ME_OR_USER + r"/presence/setPresence", set_presence),
        ("POST", _ME_OR_USER + r"/presence/clearPresence", clear_presence),
        ("POST", _ME_OR_USER + r"/presence/setUserPreferredPresence", set_preferred),
        ("POST", _ME_OR_USER + r"/presence/clearUserPreferredPresence", clear_preferred),
        ("GET", r"/communications/presences", list_presences),
        ("GET", r"/communications/presences/(?P<uid>[^/]+)", get_presence),
        ("POST", r"/communications/getPresencesByUserId", get_presences_by_user_id),
    ],
    chores=[expire_all],
)

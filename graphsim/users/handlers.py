"""Graph ``/users`` and ``/me``: list, get, create, update and delete users
(``/users/delta`` is in graphsim.users.delta)."""

from __future__ import annotations

from typing import Any

from graphsim.core.call import Call, Result
from graphsim.core.errors import GraphError, iso, utcnow
from graphsim.core.odata import (
    decode_token,
    encode_token,
    link,
    parse_filter,
    parse_top,
    project,
)
from graphsim.core.perms import require
from graphsim.core.sim import Area, Sim
from graphsim.core.state import Tenant, User, new_id
from graphsim.users.delta import delta
from graphsim.users.resource import (
    DEFAULT_SELECT,
    FILTERABLE,
    USER_CREATE,
    USER_PROPERTIES,
    USER_READ,
    USER_WRITE,
    WRITABLE,
    context_of,
    get_user_or_404,
    select_of,
)


def list_users(sim: Sim, call: Call) -> Result:
    """``GET /users``: $select, $filter, $top (≤ 999, default 100), nextLink paging."""
    require(call, USER_READ)
    select = select_of(call)
    top = parse_top(call.query, 100)
    predicate = parse_filter(call.query.get("$filter"), FILTERABLE, "User")
    after = None
    if "$skiptoken" in call.query:
        after = decode_token(call.query["$skiptoken"], "users")["a"]
    tenant = call.p.tenant
    page: list[dict[str, Any]] = []
    more = False
    with tenant.lock:
        last = None
        for user_id in tenant.ids_after(after):
            user = tenant.users[user_id]
            if predicate is not None and not predicate(user.props):
                continue
            if len(page) == top:
                more = True
                break
            page.append(project(user.props, select))
            last = user_id
    body: dict[str, Any] = {"@odata.context": context_of(call, select), "value": page}
    if more:
        params = {k: v for k, v in call.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_token({"k": "users", "a": last})
        body["@odata.nextLink"] = link(call.graph_base, "/users", params)
    return Result(200, body)


def get_user(sim: Sim, call: Call, uid: str) -> Result:
    """``GET /users/{id | userPrincipalName}``."""
    require(call, USER_READ)
    select = select_of(call)
    with call.p.tenant.lock:
        user = get_user_or_404(call.p.tenant, uid)
        body = {"@odata.context": context_of(call, select) + "/$entity"}
        body.update(project(user.props, select))
    return Result(200, body)


def get_me(sim: Sim, call: Call) -> Result:
    """``GET /me`` (delegated tokens only)."""
    if call.p.user_id is None:
        raise GraphError(
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )
    select = select_of(call)
    with call.p.tenant.lock:
        user = get_user_or_404(call.p.tenant, call.p.user_id)
        body = {"@odata.context": context_of(call, select) + "/$entity"}
        body.update(project(user.props, select))
    return Result(200, body)


def _bad_value(prop: str) -> GraphError:
    return GraphError(
        400,
        "Request_BadRequest",
        f"Invalid value specified for property '{prop}' of resource 'User'.",
        details=[{"code": "InvalidValue", "target": prop}],
    )


def _check_password(password: Any) -> str:
    classes = 0
    if isinstance(password, str):
        classes = sum(
            any(test(c) for c in password)
            for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
        )
    if not isinstance(password, str) or len(password) < 8 or classes < 3:
        raise GraphError(
            400,
            "Request_BadRequest",
            "The specified password does not comply with password complexity requirements. "
            "Please provide a different password.",
        )
    return password


def _check_upn(tenant: Tenant, upn: Any, current: User | None = None) -> str:
    if not isinstance(upn, str) or "@" not in upn:
        raise _bad_value("userPrincipalName")
    if upn.rpartition("@")[2].lower() != tenant.domain:
        raise GraphError(
            400,
            "Request_BadRequest",
            "The domain portion of the userPrincipalName property is invalid. You must use one "
            "of the verified domain names in your organization.",
            details=[{"code": "InvalidValue", "target": "userPrincipalName"}],
        )
    other = tenant.find_user(upn)
    if other is not None and other is not current:
        message = (
            "Another object with the same value for property userPrincipalName already exists."
        )
        raise GraphError(
            400,
            "Request_BadRequest",
            message,
            details=[{"code": "ObjectConflict", "message": message, "target": "userPrincipalName"}],
        )
    return upn


def create_user(sim: Sim, call: Call) -> Result:
    """``POST /users``: needs accountEnabled, displayName, mailNickname,
    userPrincipalName and passwordProfile.password; 201 with the user."""
    require(call, USER_CREATE)
    body = call.json_object()
    for prop in (
        "accountEnabled",
        "displayName",
        "mailNickname",
        "userPrincipalName",
        "passwordProfile",
    ):
        if body.get(prop) in (None, ""):
            raise _bad_value(prop)
    if not isinstance(body["accountEnabled"], bool):
        raise _bad_value("accountEnabled")
    profile = body["passwordProfile"]
    if not isinstance(profile, dict) or not profile.get("password"):
        raise _bad_value("passwordProfile")
    unknown = [k for k in body if k not in WRITABLE and not k.startswith("@")]
    if unknown:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Property '{unknown[0]}' does not exist on type 'microsoft.graph.user'.",
        )
    tenant = call.p.tenant
    with tenant.lock:
        upn = _check_upn(tenant, body["userPrincipalName"])
        password = _check_password(profile["password"])
        props: dict[str, Any] = {
            "id": new_id(),
            "businessPhones": [],
            "otherMails": [],
            "proxyAddresses": [],
            "mail": None,
            "createdDateTime": iso(utcnow()),
            "userType": "Member",
        }
        props.update({k: v for k, v in body.items() if k in USER_PROPERTIES and k != "id"})
        props["userPrincipalName"] = upn
        user = User(
            id=props["id"],
            props=props,
            password=password,
            force_change=bool(profile.get("forceChangePasswordNextSignIn", True)),
        )
        tenant.add_user(user)
        out = {"@odata.context": f"{call.graph_base}/$metadata#users/$entity"}
        out.update(project(props, list(DEFAULT_SELECT)))
    return Result(201, out, {"Location": f"{call.graph_base}/users/{user.id}"})


def apply_user_patch(sim: Sim, tenant: Tenant, user: User, body: dict[str, Any]) -> None:
    """Change a user's properties (Graph PATCH semantics); side effects: bumps the
    user's delta version and, when the account is disabled, ends its subscriptions.
    Raises GraphError 400 for unknown or invalid properties."""
    for key in body:
        if key not in WRITABLE and not key.startswith("@"):
            raise GraphError(
                400,
                "Request_BadRequest",
                f"Property '{key}' does not exist on type 'microsoft.graph.user'.",
            )
    old_upn = user.upn
    if "userPrincipalName" in body:
        _check_upn(tenant, body["userPrincipalName"], current=user)
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        raise _bad_value("accountEnabled")
    if "passwordProfile" in body:
        profile = body["passwordProfile"]
        if not isinstance(profile, dict):
            raise _bad_value("passwordProfile")
        if "password" in profile:
            user.password = _check_password(profile["password"])
        user.force_change = bool(profile.get("forceChangePasswordNextSignIn", False))
    user.props.update({k: v for k, v in body.items() if k in USER_PROPERTIES and k != "id"})
    tenant.touch_user(user, old_upn)
    if body.get("accountEnabled") is False:
        sim.user_disabled(tenant, user.id)


def update_user(sim: Sim, call: Call, uid: str) -> Result:
    """``PATCH /users/{id}`` → 204."""
    require(call, USER_WRITE)
    body = call.json_object()
    tenant = call.p.tenant
    with tenant.lock:
        user = get_user_or_404(tenant, uid)
        apply_user_patch(sim, tenant, user, body)
    return Result(204)


def delete_user(sim: Sim, call: Call, uid: str) -> Result:
    """``DELETE /users/{id}`` → 204; the user moves to deleted items (delta
    reports it with ``@removed`` reason ``changed``)."""
    require(call, USER_WRITE)
    tenant = call.p.tenant
    with tenant.lock:
        user = get_user_or_404(tenant, uid)
        sim.remove_user(tenant, user.id, reason="changed")
    return Result(204)


AREA = Area(
    "users",
    routes=[
        ("GET", r"/users", list_users),
        ("POST", r"/users", create_user),
        ("GET", r"/users/delta(?:\(\))?", delta),
        ("GET", r"/me", get_me),
        ("GET", r"/users/(?P<uid>[^/]+)", get_user),
        ("PATCH", r"/users/(?P<uid>[^/]+)", update_user),
        ("DELETE", r"/users/(?P<uid>[^/]+)", delete_user),
    ],
)

"""Control API handlers for the directory: users, groups, presence and MFA
(the user acting in Teams, or an admin changing the directory)."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request

from graphsim import presence
from graphsim.control.common import (
    ID,
    TENANT,
    ControlError,
    ControlRoute,
    body_of,
    route,
    tenant_of,
    user_of,
)
from graphsim.core.sim import Sim
from graphsim.core.state import Group, Tenant, User, new_id
from graphsim.users.handlers import apply_user_patch


def user_view(tenant: Tenant, user: User) -> dict[str, Any]:
    """A user's Graph properties plus sign-in settings and presence."""
    record = tenant.presence.get(user.id)
    return {
        **user.props,
        "password_set": user.password is not None,
        "mfa_required": user.mfa_required,
        "presence": presence.presence_json(user.id, record),
    }


def list_users(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    with tenant.lock:
        return 200, {"value": [user_view(tenant, tenant.users[i]) for i in tenant.sorted_ids()]}


def create_user(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        display = str(body.get("displayName") or "New User")
        nickname = str(
            body.get("mailNickname") or re.sub(r"[^a-z0-9.]", "", display.lower().replace(" ", "."))
        )
        upn = str(body.get("userPrincipalName") or f"{nickname}@{tenant.domain}")
        if tenant.find_user(upn) is not None:
            raise ControlError(409, f"userPrincipalName {upn} exists")
        given, _, surname = display.partition(" ")
        props: dict[str, Any] = {
            "id": str(body.get("id") or new_id()).lower(),
            "displayName": display,
            "givenName": given,
            "surname": surname or None,
            "userPrincipalName": upn,
            "mail": upn,
            "mailNickname": nickname,
            "otherMails": [],
            "proxyAddresses": [f"SMTP:{upn}"],
            "businessPhones": [],
            "mobilePhone": None,
            "faxNumber": None,
            "jobTitle": None,
            "department": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "accountEnabled": True,
        }
        props.update({k: v for k, v in body.items() if k not in ("password", "mfa_required", "id")})
        user = User(
            id=props["id"],
            props=props,
            password=body.get("password"),
            mfa_required=bool(body.get("mfa_required", False)),
        )
        tenant.add_user(user)
        return 201, user_view(tenant, user)


def update_user(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        user = user_of(tenant, u)
        if "password" in body:
            user.password, user.force_change = body.pop("password"), False
        if "mfa_required" in body:
            user.mfa_required = bool(body.pop("mfa_required"))
        if body:
            apply_user_patch(sim, tenant, user, body)
        return 200, user_view(tenant, user)


def delete_user(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    permanent = req.args.get("permanent", "").lower() in ("1", "true", "yes")
    with tenant.lock:
        sim.remove_user(tenant, user_of(tenant, u).id, reason="deleted" if permanent else "changed")
    return 204, None


def set_presence(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        user = user_of(tenant, u)
        return 200, presence.teams_act(
            sim,
            tenant,
            user.id,
            str(body.get("availability")),
            str(body.get("activity") or body.get("availability")),
            preferred=bool(body.get("preferred", False)),
        )


def set_mfa(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        user = user_of(tenant, u)
        user.mfa_required = bool(body.get("required", True))
        return 200, user_view(tenant, user)


def create_group(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        members = [user_of(tenant, m).id for m in body.get("members") or []]
        group_id = new_id()
        tenant.groups[group_id] = Group(group_id, str(body.get("display_name") or "Group"), members)
        return 201, {
            "id": group_id,
            "display_name": tenant.groups[group_id].display_name,
            "members": members,
        }


def list_groups(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    with tenant.lock:
        groups = [
            {"id": g.id, "display_name": g.display_name, "members": list(g.members)}
            for g in tenant.groups.values()
        ]
    return 200, {"value": groups}


_USERS, _GROUPS = rf"/_sim/tenants/{TENANT}/users", rf"/_sim/tenants/{TENANT}/groups"
ROUTES: list[ControlRoute] = [
    route("GET", _USERS, list_users),
    route("POST", _USERS, create_user),
    route("PATCH", rf"{_USERS}/(?P<u>{ID})", update_user, keeps=True),
    route("DELETE", rf"{_USERS}/(?P<u>{ID})", delete_user),
    route("POST", rf"{_USERS}/(?P<u>{ID})/presence", set_presence),
    route("POST", rf"{_USERS}/(?P<u>{ID})/mfa", set_mfa, keeps=True),
    route("POST", _GROUPS, create_group, keeps=True),
    route("GET", _GROUPS, list_groups),
]

"""Graph ``/groups/{id}/members``: the users of a group, paged."""

from __future__ import annotations

from typing import Any

from graphsim.core.call import Call, Result
from graphsim.core.odata import decode_token, encode_token, link, parse_select, parse_top, project
from graphsim.core.perms import Perms, require
from graphsim.core.sim import Area, Sim
from graphsim.users.resource import DEFAULT_SELECT, USER_PROPERTIES, not_found

GROUP_MEMBERS: Perms = (
    (
        "GroupMember.Read.All",
        "Group.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ),
    ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
)


def group_members(sim: Sim, call: Call, gid: str) -> Result:
    """``GET /groups/{id}/members``: users as directoryObjects, paged."""
    require(call, GROUP_MEMBERS)
    select = parse_select(call.query, USER_PROPERTIES, DEFAULT_SELECT, "user")
    top = parse_top(call.query, 100)
    offset = 0
    if "$skiptoken" in call.query:
        offset = int(decode_token(call.query["$skiptoken"], "members")["o"])
    tenant = call.p.tenant
    with tenant.lock:
        group = tenant.groups.get(gid.lower())
        if group is None:
            raise not_found(gid)
        members = [tenant.users[m] for m in group.members if m in tenant.users]
        page = [
            {"@odata.type": "#microsoft.graph.user", **project(u.props, select)}
            for u in members[offset : offset + top]
        ]
    body: dict[str, Any] = {
        "@odata.context": f"{call.graph_base}/$metadata#directoryObjects",
        "value": page,
    }
    if offset + top < len(members):
        params = {k: v for k, v in call.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_token({"k": "members", "o": offset + top})
        body["@odata.nextLink"] = link(call.graph_base, f"/groups/{gid}/members", params)
    return Result(200, body)


AREA = Area("groups", routes=[("GET", r"/groups/(?P<gid>[^/]+)/members", group_members)])

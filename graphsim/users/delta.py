"""Graph ``/users/delta``: the whole directory in pages, then only what
changed since (users added, changed or removed, the removed ones with
``@removed``)."""

from __future__ import annotations

from typing import Any

from graphsim.core.call import Call, Result
from graphsim.core.odata import decode_token, encode_token, link, parse_top, project
from graphsim.core.perms import require
from graphsim.core.sim import Sim
from graphsim.users.resource import DEFAULT_SELECT, USER_READ, context_of, select_of

DELTA_PAGE = 200


def delta(sim: Sim, call: Call) -> Result:
    """``GET /users/delta``: pages with nextLink, then a deltaLink; later calls of
    the deltaLink return only users added, changed or removed since."""
    require(call, USER_READ)
    tenant = call.p.tenant
    if "$skiptoken" in call.query:
        state = decode_token(call.query["$skiptoken"], "delta")
    elif "$deltatoken" in call.query:
        state = decode_token(call.query["$deltatoken"], "delta")
        state = {"k": "delta", "s": state["s"], "sel": state["sel"], "n": state.get("n")}
    else:
        state = {
            "k": "delta",
            "s": None,
            "sel": select_of(call) if "$select" in call.query else None,
        }
        prefer = (call.header("Prefer") or "").replace(" ", "")
        if "odata.maxpagesize=" in prefer:
            try:
                state["n"] = max(
                    1, min(999, int(prefer.split("odata.maxpagesize=")[1].split(",")[0]))
                )
            except ValueError:
                state["n"] = None
    select = state["sel"] or list(DEFAULT_SELECT)
    if "id" not in select:
        select = [*select, "id"]
    size = state.get("n") or parse_top(call.query, DELTA_PAGE)
    since, after = state["s"], state.get("a")
    with tenant.lock:
        snapshot = state.get("v", tenant.version)
        removed = {
            t.id: t.reason for t in tenant.tombstones if since is not None and t.version > since
        }
        if since is None:
            ids = tenant.ids_after(after)
        else:
            changed = [u.id for u in tenant.users.values() if u.version > since]
            ids = sorted(i for i in set(changed) | set(removed) if after is None or i > after)
        page: list[dict[str, Any]] = []
        for user_id in ids[:size]:
            user = tenant.users.get(user_id)
            if user is None:
                page.append(
                    {"id": user_id, "@removed": {"reason": removed.get(user_id, "deleted")}}
                )
            else:
                page.append(project(user.props, select))
        more = len(ids) > size
    body: dict[str, Any] = {"@odata.context": context_of(call, select, delta=True), "value": page}
    if more:
        token = {
            "k": "delta",
            "s": since,
            "v": snapshot,
            "a": page[-1]["id"],
            "sel": state["sel"],
            "n": state.get("n"),
        }
        body["@odata.nextLink"] = link(
            call.graph_base, "/users/delta", {"$skiptoken": encode_token(token)}
        )
    else:
        token = {"k": "delta", "s": snapshot, "sel": state["sel"], "n": state.get("n")}
        body["@odata.deltaLink"] = link(
            call.graph_base, "/users/delta", {"$deltatoken": encode_token(token)}
        )
    return Result(200, body)

"""``POST /$batch``: up to 20 requests, unique ids, relative URLs, dependsOn
(424 when a dependency failed), each response with its own status."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from graphsim.core.call import Call, Result
from graphsim.core.errors import JSON_TYPE, GraphError, iso7, utcnow
from graphsim.core.routing import Router, error_result, fault_error
from graphsim.core.sim import Area, Sim

MAX_REQUESTS = 20


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _validate(body: dict[str, Any]) -> list[dict[str, Any]]:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _bad("Invalid batch payload format.")
    if len(requests) > MAX_REQUESTS:
        raise _bad(f"Number of requests exceeds the maximum of {MAX_REQUESTS}.")
    ids: set[str] = set()
    for req in requests:
        if (
            not isinstance(req, dict)
            or not req.get("id")
            or not req.get("method")
            or not req.get("url")
        ):
            raise _bad("Each request must have an id, a method and a url.")
        if str(req["id"]) in ids:
            raise _bad(f"Batch request id '{req['id']}' is duplicated; ids must be unique.")
        ids.add(str(req["id"]))
    for req in requests:
        for dep in req.get("dependsOn") or []:
            if str(dep) not in ids or str(dep) == str(req["id"]):
                raise _bad(f"Request '{req['id']}' depends on unknown request '{dep}'.")
    return requests


def _order(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Topological order honouring dependsOn; raises 400 on a cycle."""
    done: list[dict[str, Any]] = []
    seen: set[str] = set()
    pending = list(requests)
    while pending:
        ready = [r for r in pending if all(str(d) in seen for d in r.get("dependsOn") or [])]
        if not ready:
            raise _bad("The dependsOn graph of the batch has a cycle.")
        for req in ready:
            done.append(req)
            seen.add(str(req["id"]))
            pending.remove(req)
    return done


def _inner_call(outer: Call, req: dict[str, Any]) -> Call:
    url = str(req["url"])
    if "://" in url:
        raise _bad("Batch request urls must be relative.")
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    if parts.path.lower().startswith("/v1.0/"):
        raise _bad("Batch request urls must be relative to the version root.")
    headers = {str(k): str(v) for k, v in (req.get("headers") or {}).items()}
    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    headers["Authorization"] = outer.header("Authorization") or ""
    body = req.get("body")
    raw = (
        b""
        if body is None
        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    )
    return Call(
        method=str(req["method"]).upper(),
        path=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=raw,
        base_url=outer.base_url,
        request_id=outer.request_id,
        client_request_id=outer.client_request_id,
    )


def handle(sim: Sim, call: Call) -> Result:
    """Run the batch; inner requests go through the normal router (faults included)."""
    router = sim.service(Router)
    requests = _order(_validate(call.json_object()))
    statuses: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    for req in requests:
        req_id = str(req["id"])
        if any(statuses.get(str(d), 200) >= 400 for d in req.get("dependsOn") or []):
            result = error_result(
                call,
                GraphError(424, "FailedDependency", "A request this request depends on failed."),
            )
        else:
            try:
                inner = _inner_call(call, req)
                if inner.path.strip("/").lower() == "$batch":
                    raise _bad("Nested batch requests are not supported.")
            except GraphError as err:
                result = error_result(call, err)
            else:
                started = time.monotonic()
                fault = sim.take_fault(inner.method, "/v1.0" + inner.path)
                if fault and fault.delay_ms:
                    time.sleep(fault.delay_ms / 1000)
                if fault and fault.status:
                    result = error_result(inner, fault_error(fault))
                else:
                    result = router.dispatch(sim, inner)
                sim.record_call(
                    {
                        "time": iso7(utcnow()),
                        "method": inner.method,
                        "path": "/v1.0" + inner.path,
                        "status": result.status,
                        "app": inner.principal.client_id if inner.principal else None,
                        "tenant": inner.principal.tenant.id if inner.principal else None,
                        "batch": True,
                        "duration_ms": round((time.monotonic() - started) * 1000),
                    }
                )
        statuses[req_id] = result.status
        item: dict[str, Any] = {
            "id": req_id,
            "status": result.status,
            "headers": dict(result.headers),
        }
        if result.body is not None:
            item["headers"].setdefault("Content-Type", JSON_TYPE)
            # Binary content travels base64-encoded inside a batch response.
            body = result.body
            item["body"] = base64.b64encode(body).decode() if isinstance(body, bytes) else body
        responses.append(item)
    return Result(200, {"responses": responses})


AREA = Area("batch", routes=[("POST", r"/\$batch", handle)])

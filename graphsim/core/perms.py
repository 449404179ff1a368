"""Permission checks: each Graph area names, per operation, the application
and the delegated permissions that allow it (a ``Perms`` pair)."""

from __future__ import annotations

from graphsim.core.call import Call
from graphsim.core.errors import GraphError

Perms = tuple[tuple[str, ...], tuple[str, ...]]


def require(call: Call, perms: Perms) -> None:
    """Raise GraphError 403 ``Authorization_RequestDenied`` unless the token grants one."""
    if not call.p.has_any(*perms):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )

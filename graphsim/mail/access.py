"""Who may open which mailbox, with Exchange Online's answers.

docs/graph.md, "Mail": an unknown user is 404 ``ErrorInvalidUser``; a user without
an Exchange Online mailbox (no licence) is 404 ``MailboxNotEnabledForRESTAPI``; an
app that an application access policy (``New-ApplicationAccessPolicy -AccessRight
RestrictAccess``) keeps out of a mailbox is 403 ``ErrorAccessDenied`` with the RAOP
text; a token without the mail permission is 403 ``ErrorAccessDenied``; a signed-in
user may open only their own mailbox here (shared mailboxes are not simulated).
"""

from __future__ import annotations

from graphsim.core.call import Call
from graphsim.core.errors import GraphError
from graphsim.core.perms import Perms
from graphsim.core.sim import Sim
from graphsim.core.state import User
from graphsim.mail.store import Mailbox, TenantMail, find_recipient, mail_state

MAIL_READ: Perms = (("Mail.Read", "Mail.ReadWrite"), ("Mail.Read", "Mail.ReadWrite"))
MAIL_WRITE: Perms = (("Mail.ReadWrite",), ("Mail.ReadWrite",))
MAIL_SEND: Perms = (("Mail.Send",), ("Mail.Send",))

ACCESS_DENIED = "Access is denied. Check credentials and try again."
POLICY_DENIED = (
    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy "
    "settings."
)
NO_MAILBOX = "The mailbox is either inactive, soft-deleted, or is hosted on-premise."


def open_mailbox(
    sim: Sim, call: Call, uid: str | None, perms: Perms
) -> tuple[TenantMail, Mailbox, User]:
    """The mailbox ``uid`` names (``None``: ``/me``) if the caller may open it; raises
    the GraphError Exchange answers otherwise. Caller holds the tenant lock."""
    principal = call.p
    if not principal.has_any(*perms):
        raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)
    tenant = principal.tenant
    if uid is None:
        if principal.user_id is None:
            raise GraphError(
                400,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            )
        uid = principal.user_id
    user = find_recipient(tenant, uid)
    if user is None:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{uid}' is invalid.")
    if principal.kind == "user" and user.id != principal.user_id:
        raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)
    mail = mail_state(sim).of(tenant)
    if user.id in mail.without_mailbox:
        raise GraphError(404, "MailboxNotEnabledForRESTAPI", NO_MAILBOX)
    if principal.kind == "app":
        allowed = mail.policies.get(principal.client_id)
        if allowed is not None and user.id not in allowed:
            raise GraphError(403, "ErrorAccessDenied", POLICY_DENIED)
    return mail, mail.mailbox(user.id), user

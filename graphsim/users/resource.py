"""The user resource as Graph shows it: its properties, which of them
``$select`` and ``$filter`` accept, the permissions to read and write users,
and Graph's 404 for a directory object (shared by the directory areas)."""

from __future__ import annotations

from graphsim.core.call import Call
from graphsim.core.errors import GraphError
from graphsim.core.odata import parse_select
from graphsim.core.perms import Perms
from graphsim.core.state import Tenant, User

USER_PROPERTIES = frozenset(
    [
        "id",
        "displayName",
        "givenName",
        "surname",
        "userPrincipalName",
        "mail",
        "mailNickname",
        "otherMails",
        "proxyAddresses",
        "businessPhones",
        "mobilePhone",
        "faxNumber",
        "jobTitle",
        "department",
        "officeLocation",
        "preferredLanguage",
        "accountEnabled",
        "createdDateTime",
        "companyName",
        "employeeId",
        "city",
        "country",
        "usageLocation",
        "userType",
    ]
)
DEFAULT_SELECT = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
]
FILTERABLE = frozenset(
    [
        "id",
        "displayName",
        "givenName",
        "surname",
        "userPrincipalName",
        "mail",
        "mailNickname",
        "accountEnabled",
        "department",
        "jobTitle",
        "otherMails",
        "proxyAddresses",
        "employeeId",
        "userType",
    ]
)
WRITABLE = frozenset(USER_PROPERTIES - {"id", "createdDateTime"}) | {"passwordProfile"}
USER_READ: Perms = (
    ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
    (
        "User.Read.All",
        "User.ReadWrite.All",
        "User.ReadBasic.All",
        "Directory.Read.All",
        "Directory.AccessAsUser.All",
    ),
)
USER_CREATE: Perms = (
    ("User.ReadWrite.All", "User.Create", "Directory.ReadWrite.All"),
    ("User.ReadWrite.All", "Directory.AccessAsUser.All"),
)
USER_WRITE: Perms = (
    ("User.ReadWrite.All", "Directory.ReadWrite.All"),
    ("User.ReadWrite.All", "Directory.AccessAsUser.All"),
)


def not_found(ident: str) -> GraphError:
    """Graph's 404 for a directory object that does not exist."""
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{ident}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def get_user_or_404(tenant: Tenant, ident: str) -> User:
    """The user with this id or UPN; raises GraphError 404."""
    user = tenant.find_user(ident)
    if user is None:
        raise not_found(ident)
    return user


def select_of(call: Call) -> list[str]:
    """The properties ``$select`` asks for (the default set without it)."""
    return parse_select(call.query, USER_PROPERTIES, DEFAULT_SELECT, "user")


def context_of(call: Call, select: list[str], delta: bool = False) -> str:
    """The ``@odata.context`` of a users answer."""
    suffix = f"({','.join(select)})" if call.query.get("$select") else ""
    return f"{call.graph_base}/$metadata#users{suffix}" + ("/delta" if delta else "")

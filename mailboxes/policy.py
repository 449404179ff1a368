"""What to run in Exchange Online PowerShell so an app reaches only its mailboxes.

Microsoft's "Limiting application permissions to specific Exchange Online mailboxes"
(application access policies: New-ApplicationAccessPolicy … -AccessRight
RestrictAccess, checked with Test-ApplicationAccessPolicy) and "Role Based Access
Control for Applications in Exchange Online", which replaces those policies
(New-ServicePrincipal, New-ManagementScope, New-ManagementRoleAssignment with the
"Application Mail.ReadWrite" and "Application Mail.Send" roles, checked with
Test-ServicePrincipalAuthorization). Permissions granted in Entra ID and in
Exchange add up, so with RBAC the tenant-wide Mail permissions must be removed
from the app registration.
"""

from __future__ import annotations

GROUP = "ccbridge mailboxes"


def access_policy_commands(*, client_id: str, addresses: list[str], other: str) -> list[str]:
    """An application access policy that limits app ``client_id`` to ``addresses``
    (members of a mail-enabled security group), and the checks that prove it."""
    members = ",".join(f'"{a}"' for a in addresses)
    first = addresses[0] if addresses else "<mailbox>"
    return [
        f'New-DistributionGroup -Name "{GROUP}" -Type Security -Members {members}',
        f'New-ApplicationAccessPolicy -AppId {client_id} -PolicyScopeGroupId "{GROUP}" '
        '-AccessRight RestrictAccess -Description "ccbridge: contact-center mailboxes only"',
        f"Test-ApplicationAccessPolicy -Identity {first} -AppId {client_id}",
        f"Test-ApplicationAccessPolicy -Identity {other} -AppId {client_id}",
    ]


def rbac_commands(*, client_id: str, addresses: list[str]) -> list[str]:
    """The same limit with RBAC for Applications in Exchange Online."""
    first = addresses[0] if addresses else "<mailbox>"
    return [
        f"New-ServicePrincipal -AppId {client_id} -ObjectId <enterprise application object ID> "
        '-DisplayName "ccbridge"',
        f'New-ManagementScope -Name "{GROUP}" -RecipientRestrictionFilter '
        "\"MemberOfGroup -eq '<distinguished name of the group>'\"",
        f'New-ManagementRoleAssignment -App {client_id} -Role "Application Mail.ReadWrite" '
        f'-CustomResourceScope "{GROUP}"',
        f'New-ManagementRoleAssignment -App {client_id} -Role "Application Mail.Send" '
        f'-CustomResourceScope "{GROUP}"',
        f"Test-ServicePrincipalAuthorization -Identity {client_id} -Resource {first}",
    ]

from django.http import HttpRequest

from console.navigation import navigation_for
from console.roles import role_of
from integrations.banners import secret_expiry_banner
from integrations.services import account_get
from mailboxes.banners import mailbox_expiry_banners


def shell(request: HttpRequest) -> dict:
    """Navigation, role and banners for the base layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": "", "banners": []}
    banner = secret_expiry_banner(account_get())
    return {
        "nav_items": navigation_for(user),
        "user_role": role_of(user),
        "banners": ([banner] if banner else []) + mailbox_expiry_banners(),
    }

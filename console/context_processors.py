from django.http import HttpRequest

from console.navigation import navigation_for
from console.roles import role_of


def shell(request: HttpRequest) -> dict:
    """Navigation, role and banners for the base layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": "", "banners": []}
    return {
        "nav_items": navigation_for(user),
        "user_role": role_of(user),
        "banners": [],
    }

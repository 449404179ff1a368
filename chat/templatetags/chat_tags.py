"""Template tags of expert chat for pages of other apps (the System users page)."""

from django import template

from chat.models import ChatSubscription
from chat.service_account import chat_account_get
from presence.sync_models import SystemUser

register = template.Library()


@register.inclusion_tag("chat/_service_account.html", takes_context=True)
def chat_service_account_panel(context) -> dict:
    """The chat service account section: who it is, its scopes check, the subscription."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "account": chat_account_get(),
        "system_users": SystemUser.objects.filter(enabled=True).order_by("username"),
        "subscription": ChatSubscription.objects.first(),
        "can_change": bool(user and user.has_perm("chat.change_chatserviceaccount")),
        "csrf_token": context.get("csrf_token"),
    }

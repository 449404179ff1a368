"""Template tags of expert chat for pages of other apps (System users, Subscription health)."""

from django import template
from django.conf import settings
from django.utils import timezone

from chat.models import ChatSubscription
from chat.service_account import chat_account_get, scope_checks
from chat.subscription import NOTIFICATION_PATH
from presence.subscriptions.views import expires_in
from presence.sync_models import SystemUser

register = template.Library()


@register.inclusion_tag("chat/_service_account.html", takes_context=True)
def chat_service_account_panel(context) -> dict:
    """The chat service account section: who it is, its scopes check, the subscription."""
    request = context.get("request")
    user = getattr(request, "user", None)
    account = chat_account_get()
    # The marked user stays a choice even when disabled: saving the form as shown must
    # never unmark it by accident.
    choices = SystemUser.objects.filter(enabled=True)
    if account is not None:
        choices = choices | SystemUser.objects.filter(pk=account.system_user_id)
    held = set(account.scopes.split()) if account else set()
    return {
        "account": account,
        # Only a token that was read can be checked scope by scope.
        "scope_checks": scope_checks(held) if held else [],
        "system_users": choices.order_by("username"),
        "subscription": ChatSubscription.objects.first(),
        "can_change": bool(user and user.has_perm("chat.change_chatserviceaccount")),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("chat/_subscription_health.html", takes_context=True)
def chat_subscription_health(context) -> dict:
    """The chat-message subscription's health, beside the presence subscriptions."""
    request = context.get("request")
    user = getattr(request, "user", None)
    row = ChatSubscription.objects.first()
    return {
        "account": chat_account_get(),
        "subscription": row,
        "expiry_text": expires_in(row.expires_at if row else None, timezone.now()),
        "notification_url": settings.CCBRIDGE_PUBLIC_URL.rstrip("/") + NOTIFICATION_PATH,
        "can_manage_users": bool(user and user.has_perm("presence.view_systemuser")),
    }

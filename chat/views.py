"""Console views of expert chat: marking the chat service account (System users page)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from chat.service_account import chat_service_account_clear, chat_service_account_set
from presence.sync_models import SystemUser


@require_POST
@permission_required("chat.change_chatserviceaccount", raise_exception=True)
def service_account(request: HttpRequest) -> HttpResponse:
    """Mark a system user as the chat service account (and check its chat scopes), or
    unmark it (``system_user`` empty)."""
    raw = request.POST.get("system_user", "").strip()
    if not raw:
        chat_service_account_clear(actor=request.user)
        messages.success(request, "No system user speaks in Teams chats now.")
        return redirect("sync:system_users")
    user = get_object_or_404(SystemUser, pk=raw) if raw.isdigit() else None
    if user is None:
        messages.error(request, "Choose a system user.")
        return redirect("sync:system_users")
    account = chat_service_account_set(actor=request.user, system_user=user)
    if account.ready:
        messages.success(
            request,
            f"{user.username} is the chat service account; its token holds the chat scopes.",
        )
    else:
        messages.error(
            request,
            f"{user.username} is marked for chat but cannot chat yet: {account.status_detail}",
        )
    return redirect("sync:system_users")

"""The directory page: synced Teams users, their phones, and the sync job."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import DirectoryFilterForm, SyncIntervalForm
from accounts.models import DirectoryUser
from accounts.sync import sync_state
from accounts.tasks import directory_sync_start
from integrations.audit import audit_record
from integrations.models import default_phone_types
from integrations.services import account_get

PAGE_SIZE = 50


def _filtered(form: DirectoryFilterForm):
    users = DirectoryUser.objects.select_related("mapping__agent")
    if not form.is_valid():
        return users
    query = form.cleaned_data["q"].strip()
    if query:
        users = users.filter(
            Q(display_name__icontains=query)
            | Q(mail__icontains=query)
            | Q(user_principal_name__icontains=query)
            | Q(department__icontains=query)
        )
    status = form.cleaned_data["status"]
    if status == "enabled":
        users = users.filter(account_enabled=True, removed_reason="")
    elif status == "disabled":
        users = users.filter(account_enabled=False, removed_reason="")
    elif status == "removed":
        users = users.exclude(removed_reason="")
    elif status == "mapped":
        users = users.filter(mapping__isnull=False)
    elif status == "unmapped":
        users = users.filter(mapping__isnull=True, removed_reason="")
    return users


@require_GET
@permission_required("accounts.view_directoryuser", raise_exception=True)
def directory(request: HttpRequest) -> HttpResponse:
    form = DirectoryFilterForm(request.GET)
    page = Paginator(_filtered(form), PAGE_SIZE).get_page(request.GET.get("page"))
    account = account_get()
    phone_types = account.phone_types if account else default_phone_types()
    rows = [(user, user.phones_in_order(phone_types)) for user in page]
    state = sync_state()
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "state": state,
        "job": state.running_job,
        "interval_form": SyncIntervalForm(instance=state),
        "has_account": account is not None,
        "total": DirectoryUser.objects.count(),
    }
    if request.htmx and request.htmx.target == "directory-table":
        return render(request, "accounts/directory.html#table", context)
    return render(request, "accounts/directory.html", context)


@require_POST
@permission_required("accounts.sync_directory", raise_exception=True)
def directory_sync(request: HttpRequest) -> HttpResponse:
    job = directory_sync_start(user=request.user)
    if request.htmx:
        return render(request, "console/job_detail.html#progress", {"job": job})
    messages.success(request, "Directory sync started.")
    return redirect("accounts:directory")


@require_POST
@permission_required("accounts.change_directorysyncstate", raise_exception=True)
def directory_interval(request: HttpRequest) -> HttpResponse:
    state = sync_state()
    old = state.interval_minutes
    form = SyncIntervalForm(request.POST, instance=state)
    if form.is_valid():
        form.save()
        audit_record(
            actor=request.user,
            action="directory.interval",
            target=state,
            summary=f"Directory sync interval set to {state.interval_minutes} minutes",
            changes={"interval_minutes": [old, state.interval_minutes]},
        )
        messages.success(request, "Saved the sync schedule.")
    else:
        messages.error(request, " ".join(form.errors["interval_minutes"]))
    return redirect("accounts:directory")

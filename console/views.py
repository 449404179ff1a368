"""The console shell: dashboard, jobs, users, audit log and the health endpoint."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.forwarded import forwarded_header_note, forwarded_header_seen
from console import services
from console.forms import ConsoleUserForm
from console.health import system_checks
from console.lockout import lockout_clear, lockouts_active
from console.queue_status import queue_statuses
from console.roles import role_of
from console.tasks import system_selfcheck
from integrations.jobs import job_enqueue
from integrations.models import AuditEntry, JobRun
from presence.board.health import sync_health_summary

User = get_user_model()
PAGE_SIZE = 25
SYNC_PANEL_ID = "presence-sync"


@require_GET
@permission_required("console.view_dashboard", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    # The presence sync panel polls on its own, so it refreshes without the checks.
    if request.htmx and request.htmx.target == SYNC_PANEL_ID:
        return render(request, "console/dashboard.html#sync", {"sync": sync_health_summary()})
    context = {
        "checks": system_checks(),
        "queues": queue_statuses(),
        "recent_jobs": JobRun.objects.select_related("started_by")[:8],
    }
    if request.htmx:
        return render(request, "console/dashboard.html#status", context)
    context["sync"] = sync_health_summary()
    # Only Administrators can act on it: the fix is a deployment setting.
    proxied = forwarded_header_note(request) or forwarded_header_seen()
    context["proxy_unconfigured"] = proxied and request.user.has_perm("console.manage_users")
    return render(request, "console/dashboard.html", context)


@never_cache
@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitors: 200 when every check passes, else 503."""
    checks = system_checks()
    healthy = all(check.ok for check in checks)
    body = {
        "status": "ok" if healthy else "fail",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
        # For monitors to graph and alert on; a backlog alone does not take the console
        # out of a load balancer, since every replica shares the same queues.
        "queues": {
            queue.role: {
                "depth": queue.depth,
                "oldest_seconds": queue.oldest_seconds,
                "waiting_too_long": queue.waiting_too_long,
            }
            for queue in queue_statuses()
        },
    }
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
@permission_required("integrations.view_jobrun", raise_exception=True)
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = JobRun.objects.select_related("started_by")
    status = request.GET.get("status", "")
    if status in JobRun.Status.values:
        jobs = jobs.filter(status=status)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "statuses": JobRun.Status.choices}
    template = "console/job_list.html#table" if request.htmx else "console/job_list.html"
    return render(request, template, context)


@require_GET
@permission_required("integrations.view_jobrun", raise_exception=True)
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(JobRun.objects.select_related("started_by"), pk=pk)
    if request.htmx:
        return render(request, "console/job_detail.html#progress", {"job": job})
    return render(request, "console/job_detail.html", {"job": job})


@require_POST
@permission_required("console.run_jobs", raise_exception=True)
def selfcheck_start(request: HttpRequest) -> HttpResponse:
    job = job_enqueue(kind="system.selfcheck", task=system_selfcheck, user=request.user)
    if request.htmx:
        return render(request, "console/job_detail.html#progress", {"job": job})
    return redirect("console:job_detail", pk=job.pk)


def _distinct(queryset, field: str):
    return queryset.order_by(field).values_list(field, flat=True).distinct()


@require_GET
@permission_required("console.view_auditlog", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.all()
    # NUL: PostgreSQL cannot compare it, and no entry holds one.
    query = request.GET.get("q", "").replace("\x00", "").strip()
    action = request.GET.get("action", "").replace("\x00", "").strip()
    actor = request.GET.get("actor", "").replace("\x00", "").strip()
    if query:
        entries = entries.filter(Q(summary__icontains=query) | Q(target_id=query))
    if action:
        entries = entries.filter(action=action)
    if actor:
        entries = entries.filter(actor_name=actor)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": query,
        "action": action,
        "actor": actor,
        "actions": _distinct(AuditEntry.objects.all(), "action"),
        "actors": _distinct(AuditEntry.objects.all(), "actor_name"),
    }
    template = "console/audit_log.html#table" if request.htmx else "console/audit_log.html"
    return render(request, template, context)


@require_GET
@permission_required("console.manage_users", raise_exception=True)
def user_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.prefetch_related("groups").order_by("username")
    locked = lockouts_active()
    rows = [(user, role_of(user), locked.get(user.username)) for user in users]
    return render(request, "console/user_list.html", {"rows": rows})


@require_POST
@permission_required("console.manage_users", raise_exception=True)
def user_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    """Lift a sign-in lockout (too many wrong passwords) before its cool-off ends."""
    user = get_object_or_404(User, pk=pk)
    if lockout_clear(actor=request.user, username=user.username):
        messages.success(request, f"{user.username} can sign in again.")
    else:
        messages.info(request, f"{user.username} was not locked out.")
    return redirect("console:user_list")


@require_http_methods(["GET", "POST"])
@permission_required("console.manage_users", raise_exception=True)
def user_create(request: HttpRequest) -> HttpResponse:
    form = ConsoleUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.console_user_create(actor=request.user, **form.cleaned_data)
        messages.success(request, f"Created {user.username}.")
        return redirect("console:user_list")
    return render(request, "console/user_form.html", {"form": form, "editing": None})


@require_http_methods(["GET", "POST"])
@permission_required("console.manage_users", raise_exception=True)
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    initial = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": role_of(user),
        "is_active": user.is_active,
    }
    form = ConsoleUserForm(request.POST or None, instance=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.console_user_update(actor=request.user, user=user, **form.cleaned_data)
        except services.LastAdministratorError as exc:
            form.add_error("role", str(exc))
        else:
            messages.success(request, f"Saved {user.username}.")
            return redirect("console:user_list")
    return render(request, "console/user_form.html", {"form": form, "editing": user})


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)

"""The setup page: every check of the Azure set-up, run on demand and nightly."""

import json
from itertools import groupby

from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Agent
from integrations.models import SetupRun
from integrations.setup.collect import redirect_uri
from integrations.setup.manifest import manifest
from integrations.setup.services import setup_run_latest, setup_run_settle
from integrations.setup.tasks import setup_run_enqueue
from integrations.setup.troubleshoot import agent_facts, chain, first_broken

TEMPLATE = "integrations/setup.html"


def _context(request: HttpRequest, run: SetupRun | None) -> dict:
    rows = run.checks if run else []
    return {
        "run": run,
        "groups": [(name, list(items)) for name, items in groupby(rows, key=lambda r: r["group"])],
        "counts": {s: sum(1 for r in rows if r["state"] == s) for s in ("green", "amber", "red")},
        "can_run": request.user.has_perm("integrations.add_setuprun"),
        "manifest": _manifest_text(),
    }


def _manifest_text() -> str:
    return json.dumps(manifest(redirect_uri=redirect_uri()), indent=2)


@require_http_methods(["GET", "POST"])
@permission_required("integrations.view_setuprun", raise_exception=True)
def setup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not request.user.has_perm("integrations.add_setuprun"):
            return render(request, "403.html", status=403)
        with transaction.atomic():
            run = setup_run_enqueue(user=request.user)
        run.job.refresh_from_db()
        setup_run_settle(run)
        if request.htmx:
            return render(request, f"{TEMPLATE}#results", _context(request, run))
        return redirect("integrations:setup")
    return render(request, TEMPLATE, _context(request, setup_run_settle(setup_run_latest())))


@require_GET
@permission_required("integrations.view_setuprun", raise_exception=True)
def setup_result(request: HttpRequest, pk: int) -> HttpResponse:
    run = setup_run_settle(get_object_or_404(SetupRun.objects.select_related("job"), pk=pk))
    return render(request, f"{TEMPLATE}#results", _context(request, run))


@require_GET
@permission_required("integrations.view_setuprun", raise_exception=True)
def setup_manifest(request: HttpRequest) -> HttpResponse:
    """The app manifest as a file to download."""
    response = HttpResponse(_manifest_text(), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="ccbridge-app-manifest.json"'
    return response


@require_GET
@permission_required("accounts.view_agent", raise_exception=True)
def agent_troubleshoot(request: HttpRequest, agent_id: int) -> HttpResponse:
    """Why isn't presence syncing for one agent: the chain, and its first broken link."""
    agent = get_object_or_404(
        Agent.objects.select_related("mapping__directory_user", "business_unit"), pk=agent_id
    )
    links = chain(agent_facts(agent))
    context = {"agent": agent, "links": links, "broken": first_broken(links)}
    return render(request, "integrations/agent_troubleshoot.html", context)

"""Agents and their mapping: the mapping screen, auto-map review, manual remap, CSV import."""

import base64
import binascii

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.csvimport import csv_preview
from accounts.forms import AgentsCsvForm, MappingFilterForm
from accounts.matching import AgentRef, MatchStatus
from accounts.models import Agent, AgentMapping, BusinessUnit, DirectoryUser
from accounts.ranking import rank_candidates

PAGE_SIZE = 50
SEARCH_LIMIT = 25


def _agents(form: MappingFilterForm):
    agents = Agent.objects.select_related(
        "business_unit", "mapping__directory_user"
    ).prefetch_related("teams")
    if not form.is_valid():
        return agents
    data = form.cleaned_data
    if data["business_unit"]:
        agents = agents.filter(business_unit=data["business_unit"])
    query = data["q"].strip()
    if query:
        agents = agents.filter(
            Q(name__icontains=query)
            | Q(email__icontains=query)
            | Q(external_id=query)
            | Q(mapping__directory_user__user_principal_name__icontains=query)
        )
    status = data["status"]
    if status == "ambiguous":
        agents = agents.filter(mapping__isnull=True, automap_status=MatchStatus.AMBIGUOUS)
    elif status == "teams_off":
        agents = agents.filter(teams_enabled=False)
    elif status:
        agents = agents.filter(services.mapping_status_filter(status))
    return agents


@require_GET
@permission_required("accounts.view_agent", raise_exception=True)
def mapping(request: HttpRequest) -> HttpResponse:
    form = MappingFilterForm(request.GET)
    page = Paginator(_agents(form), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "units": BusinessUnit.objects.all(),
        "counts": {
            "agents": Agent.objects.count(),
            "mapped": AgentMapping.objects.count(),
            "teams_off": Agent.objects.filter(teams_enabled=False).count(),
        },
    }
    if request.htmx and request.htmx.target == "mapping-table":
        return render(request, "accounts/mapping.html#table", context)
    return render(request, "accounts/mapping.html", context)


@require_POST
@permission_required("accounts.toggle_teams", raise_exception=True)
def mapping_bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = [int(i) for i in request.POST.getlist("agent") if i.isdigit()]
    if action == "reenable_all":
        count = services.agents_set_teams_enabled(actor=request.user, agent_ids=None, enabled=True)
        messages.success(request, f"Teams integration re-enabled for {count} agents.")
    elif action in ("enable", "disable") and ids:
        enabled = action == "enable"
        count = services.agents_set_teams_enabled(
            actor=request.user, agent_ids=ids, enabled=enabled
        )
        word = "enabled" if enabled else "disabled"
        messages.success(request, f"Teams integration {word} for {count} agents.")
    else:
        messages.error(request, "Select agents first, then choose Enable or Disable.")
    # Back to the filtered page the admin was on, but never to another site.
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("accounts:mapping")
    return redirect(target)


def _review_rows(unit: BusinessUnit):
    proposals = services.automap_proposals(business_unit=unit)
    agents = Agent.objects.in_bulk([p.agent_id for p in proposals])
    user_ids = {c.user_id for p in proposals for c in p.candidates}
    users = {u.graph_id: u for u in DirectoryUser.objects.filter(graph_id__in=user_ids)}
    # Remember each verdict so the mapping screen can filter on it.
    for status in MatchStatus:
        ids = [p.agent_id for p in proposals if p.status == status]
        Agent.objects.filter(pk__in=ids).exclude(automap_status=status).update(
            automap_status=status
        )
    # Ambiguous proposals first: they are the ones that need a person.
    order = {MatchStatus.AMBIGUOUS: 0, MatchStatus.NONE: 1, MatchStatus.MATCHED: 2}
    proposals = sorted(proposals, key=lambda p: order[p.status])
    return [
        {
            "agent": agents[p.agent_id],
            "proposal": p,
            "candidates": [(c, users.get(c.user_id)) for c in p.candidates],
            "chosen_user": users.get(p.chosen.user_id) if p.chosen else None,
        }
        for p in proposals
    ]


@require_http_methods(["GET", "POST"])
@permission_required("accounts.map_agents", raise_exception=True)
def automap(request: HttpRequest, unit_id: int) -> HttpResponse:
    """Review proposals (GET), confirm the included ones (POST step=confirm), apply (step=apply)."""
    unit = get_object_or_404(BusinessUnit, pk=unit_id)
    step = request.POST.get("step", "")
    if request.method == "POST" and step == "apply":
        ids = [int(i) for i in request.POST.getlist("include") if i.isdigit()]
        mapped = services.automap_apply(actor=request.user, business_unit=unit, agent_ids=ids)
        messages.success(request, f"Mapped {mapped} agents in {unit.name}.")
        return redirect(f"{reverse('accounts:mapping')}?business_unit={unit.pk}")

    rows = _review_rows(unit)
    matched = [row for row in rows if row["proposal"].status == MatchStatus.MATCHED]
    if request.method == "POST" and step == "confirm":
        included = {int(i) for i in request.POST.getlist("include") if i.isdigit()}
        chosen = [row for row in matched if row["agent"].pk in included]
        return render(
            request,
            "accounts/automap_confirm.html",
            {"unit": unit, "rows": chosen, "excluded": len(matched) - len(chosen)},
        )
    selection = request.POST.get("select", "") if request.method == "POST" else ""
    included = set()
    if selection != "none":
        included = {row["agent"].pk for row in matched}
    context = {
        "unit": unit,
        "rows": rows,
        "included": included,
        "summary": {
            status: sum(1 for row in rows if row["proposal"].status == status)
            for status in MatchStatus
        },
    }
    return render(request, "accounts/automap.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("accounts.map_agents", raise_exception=True)
def remap(request: HttpRequest, agent_id: int) -> HttpResponse:
    """One agent: ranked candidates, directory search, pick, confirm; or unmap."""
    agent = get_object_or_404(
        Agent.objects.select_related("business_unit", "mapping__directory_user"), pk=agent_id
    )
    if request.method == "POST":
        return _remap_post(request, agent)
    query = request.GET.get("q", "").strip()
    taken = set(
        AgentMapping.objects.exclude(agent=agent).values_list("directory_user__graph_id", flat=True)
    )
    users = DirectoryUser.objects.filter(removed_reason="")
    candidates = rank_candidates(
        AgentRef(id=agent.pk, email=agent.email, name=agent.name),
        services.directory_user_refs(),
        mapped_users=taken,
    )
    by_id = DirectoryUser.objects.in_bulk([c.user_id for c in candidates], field_name="graph_id")
    results = []
    if query:
        results = list(
            users.filter(
                Q(display_name__icontains=query)
                | Q(mail__icontains=query)
                | Q(user_principal_name__icontains=query)
            ).select_related("mapping__agent")[:SEARCH_LIMIT]
        )
    context = {
        "agent": agent,
        "candidates": [(c, by_id[c.user_id]) for c in candidates if c.user_id in by_id],
        "q": query,
        "results": results,
        "current": getattr(agent, "mapping", None),
    }
    if request.htmx and request.htmx.target == "search-results":
        return render(request, "accounts/remap.html#search_results", context)
    return render(request, "accounts/remap.html", context)


def _remap_post(request: HttpRequest, agent: Agent) -> HttpResponse:
    if request.POST.get("action") == "unmap":
        services.agent_unmap(actor=request.user, agent=agent)
        messages.success(request, f"Unmapped {agent.name}.")
        return redirect("accounts:remap", agent_id=agent.pk)
    user = DirectoryUser.objects.filter(graph_id=request.POST.get("user", "")).first()
    if user is None:
        messages.error(request, "Pick a directory user first.")
        return redirect("accounts:remap", agent_id=agent.pk)
    if request.POST.get("confirm") != "yes":
        return render(request, "accounts/remap_confirm.html", {"agent": agent, "user": user})
    try:
        services.agent_map(actor=request.user, agent=agent, user=user)
    except services.MappingError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:remap", agent_id=agent.pk)
    messages.success(request, f"Mapped {agent.name} to {user}.")
    return redirect("accounts:remap", agent_id=agent.pk)


@require_http_methods(["GET", "POST"])
@permission_required("accounts.import_agents", raise_exception=True)
def agents_import(request: HttpRequest) -> HttpResponse:
    """Upload → preview with per-row errors → import (all or nothing)."""
    if request.method == "POST" and request.POST.get("step") == "import":
        try:
            data = base64.b64decode(request.POST.get("payload", ""), validate=False)
        except binascii.Error:
            data = b""  # a truncated or edited payload: preview it as the empty file it is
        preview = csv_preview(data)
        if preview.ok:
            result = services.agents_upsert(
                actor=request.user, rows=preview.agents, source="CSV upload"
            )
            messages.success(
                request,
                f"Imported agents: {len(result.created)} created, {len(result.updated)} "
                f"updated, {len(result.unchanged)} unchanged.",
            )
            return redirect("accounts:mapping")
        return render(
            request, "accounts/import.html", {"form": AgentsCsvForm(), "preview": preview}
        )

    form = AgentsCsvForm(request.POST or None, request.FILES or None)
    context = {"form": form, "preview": None}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        context["preview"] = csv_preview(data)
        context["payload"] = base64.b64encode(data).decode()
    return render(request, "accounts/import.html", context)

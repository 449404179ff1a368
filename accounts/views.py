"""Agents and their mapping: the mapping screen and manual remap (the auto-map review is
automap_views, the CSV import import_views)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Func, Max, OuterRef, Q, QuerySet, StringAgg, Subquery, Value
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.forms import MappingFilterForm
from accounts.matching import AgentRef, MatchStatus
from accounts.models import Agent, AgentMapping, AgentTeam, BusinessUnit, DirectoryUser
from accounts.ranking import rank_candidates

PAGE_SIZE = 50
SEARCH_LIMIT = 25


def _selection(form: MappingFilterForm) -> Q:
    """The agents the mapping screen's filters select, as one condition on Agent."""
    if not form.is_valid():
        return Q()
    data = form.cleaned_data
    selected = Q()
    if data["business_unit"]:
        selected &= Q(business_unit=data["business_unit"])
    query = data["q"].strip()
    if query:
        selected &= Q(pk__in=_search_matches(query))
    status = data["status"]
    if status == "ambiguous":
        selected &= Q(mapping__isnull=True, automap_status=MatchStatus.AMBIGUOUS)
    elif status == "teams_off":
        selected &= Q(teams_enabled=False)
    elif status:
        selected &= services.mapping_status_filter(status)
    return selected


def _search_matches(query: str) -> QuerySet:
    """Ids of the agents whose name or email contains ``query``, whose external id is
    ``query``, or whose Teams user's UPN contains it.

    One select per column, united, rather than one OR over the agents: each part reads
    only its own matches through its own index (on PostgreSQL the trigram indexes of
    migration 0004), where the OR made the database test every agent.
    """
    agents = Agent.objects.order_by()
    by_upn = AgentMapping.objects.filter(directory_user__user_principal_name__icontains=query)
    return (
        agents.filter(name__icontains=query)
        .values("pk")
        .union(
            agents.filter(email__icontains=query).values("pk"),
            agents.filter(external_id=query).values("pk"),
            by_upn.order_by().values("agent_id"),
        )
    )


class _AgentPages:
    """The selected agents as the paginator sees them: a count already known, and pages
    read in two steps so that the joins for display touch one page, not every agent.

    A page is the ids of its agents in screen order (LIMIT/OFFSET over the agents alone),
    then those agents with their unit, mapping, directory user and teams. A page in the
    second half is counted from the end, in reverse order: the database then keeps the
    few rows up to that page instead of sorting every selected agent to skip most of them.
    """

    ordered = True

    def __init__(self, selected: Q, count: int) -> None:
        self._selected = selected
        self._count = count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, window: slice) -> list[Agent]:
        start, stop = window.start or 0, window.stop
        order = ("name", "id")
        if start > self._count - stop:
            start, stop = max(self._count - stop, 0), self._count - start
            order = ("-name", "-id")
        ids = Agent.objects.filter(self._selected).order_by(*order).values("pk")[start:stop]
        agents = (
            Agent.objects.filter(pk__in=ids)
            .select_related("business_unit", "mapping__directory_user")
            .order_by("name", "id")
        )
        if connection.features.supports_aggregate_order_by_clause:
            return list(agents.annotate(team_names=_team_names()))
        # SQLite before 3.44 cannot order inside group_concat: the teams in a second query.
        listed = list(agents.prefetch_related("teams"))
        for agent in listed:
            agent.team_names = ", ".join(team.name for team in agent.teams.all())
        return listed


def _team_names() -> Subquery:
    """An agent's team names, in the teams' own order, joined by ", " (None without teams):
    part of the page's query instead of a second query for the teams."""
    teams = (
        AgentTeam.objects.filter(agents=OuterRef("pk"))
        .order_by()
        .values("agents")
        .annotate(names=StringAgg("name", Value(", "), order_by=AgentTeam._meta.ordering))
        .values("names")
    )
    return Subquery(teams)


@require_GET
@permission_required("accounts.view_agent", raise_exception=True)
def mapping(request: HttpRequest) -> HttpResponse:
    form = MappingFilterForm(request.GET)
    selected = _selection(form)
    # Every figure the screen shows, and the paginator's count, in one statement. The
    # mappings are counted in a subquery that reads that table once, not joined to every agent.
    mappings = AgentMapping.objects.order_by().values(n=Func("pk", function="COUNT"))
    counts = Agent.objects.aggregate(
        agents=Count("pk"),
        mapped=Max(Subquery(mappings.values("n")), default=0),
        teams_off=Count("pk", filter=Q(teams_enabled=False)),
        listed=Count("pk", filter=selected) if selected else Count("pk"),
    )
    page = Paginator(_AgentPages(selected, counts["listed"]), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "page": page, "counts": counts}
    if request.htmx and request.htmx.target == "mapping-table":
        return render(request, "accounts/mapping.html#table", context)
    # One read of the units for both the auto-map buttons and the unit filter.
    units = list(BusinessUnit.objects.all())
    unit_field = form.fields["business_unit"]
    unit_field.choices = [("", unit_field.empty_label), *((u.pk, u.name) for u in units)]
    context["units"] = units
    return render(request, "accounts/mapping.html", context)


@require_POST
@permission_required("accounts.toggle_teams", raise_exception=True)
def mapping_bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    # Ids are 64-bit keys: a longer number names no agent, and SQLite refuses to bind it.
    ids = [
        int(i)
        for i in request.POST.getlist("agent")
        if i.isascii() and i.isdigit() and int(i) < 2**63
    ]
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
    # A path only: redirect() would take "0" or ":" for a view name and fail.
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        target = reverse("accounts:mapping")
    return redirect(target)


@require_http_methods(["GET", "POST"])
@permission_required("accounts.map_agents", raise_exception=True)
def remap(request: HttpRequest, agent_id: int) -> HttpResponse:
    """One agent: ranked candidates, directory search, pick, confirm; or unmap."""
    agent = get_object_or_404(
        Agent.objects.select_related("business_unit", "mapping__directory_user"), pk=agent_id
    )
    if request.method == "POST":
        return _remap_post(request, agent)
    query = request.GET.get("q", "").replace("\x00", "").strip()  # PostgreSQL refuses NUL
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
    graph_id = request.POST.get("user", "")
    user = None
    if "\x00" not in graph_id:  # no directory user's id holds one; PostgreSQL cannot compare it
        user = DirectoryUser.objects.filter(graph_id=graph_id).first()
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

"""The auto-map review of a business unit: proposals by group and page, the admin's
ticks, the confirm step (with what mapping does to the ACD state) and the apply."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from accounts import review, services
from accounts.matching import MatchStatus, Proposal
from accounts.models import Agent, BusinessUnit, DirectoryUser
from accounts.views import PAGE_SIZE
from presence.rules import services as presence_services


def _remember_verdicts(proposals: list[Proposal]) -> None:
    """Store each verdict on its agent, so the mapping screen can filter on it."""
    for status in MatchStatus:
        ids = [p.agent_id for p in proposals if p.status == status]
        Agent.objects.filter(pk__in=ids).exclude(automap_status=status).update(
            automap_status=status
        )


def _review_rows(proposals: list[Proposal]) -> list[dict]:
    """One page of proposals with their agents and candidate users (two queries)."""
    agents = Agent.objects.in_bulk([p.agent_id for p in proposals])
    user_ids = {c.user_id for p in proposals for c in p.candidates}
    users = {u.graph_id: u for u in DirectoryUser.objects.filter(graph_id__in=user_ids)}
    return [
        {
            "agent": agents[p.agent_id],
            "proposal": p,
            "candidates": [(c, users.get(c.user_id)) for c in p.candidates],
            "chosen_user": users.get(p.chosen.user_id) if p.chosen else None,
        }
        for p in proposals
        if p.agent_id in agents
    ]


def _posted_ids(request: HttpRequest, name: str) -> set[int]:
    return {int(i) for i in request.POST.getlist(name) if i.isascii() and i.isdigit()}


def _review_search(unit: BusinessUnit, query: str) -> set[int] | None:
    """The unmapped agents of the unit whose name or email contains ``query``."""
    if not query:
        return None
    agents = Agent.objects.filter(business_unit=unit, mapping__isnull=True)
    found = agents.filter(Q(name__icontains=query) | Q(email__icontains=query))
    return set(found.values_list("pk", flat=True))


def _review_query(request: HttpRequest) -> str:
    source = request.POST if request.method == "POST" else request.GET
    return source.get("q", "").replace("\x00", "").strip()[:200]  # PostgreSQL refuses NUL


@require_http_methods(["GET", "POST"])
@permission_required("accounts.map_agents", raise_exception=True)
def automap(request: HttpRequest, unit_id: int) -> HttpResponse:
    """Review the proposals a group and a page at a time (GET); tick (POST, also over
    htmx), tick or untick a whole group, confirm the ticked ones (step=confirm), apply
    (step=apply). The ticks are kept in the session across pages."""
    unit = get_object_or_404(BusinessUnit, pk=unit_id)
    step = request.POST.get("step", "")
    if request.method == "POST" and step == "apply":
        ids = _posted_ids(request, "include")
        mapped = services.automap_apply(actor=request.user, business_unit=unit, agent_ids=ids)
        review.ticks_clear(request.session, unit_id=unit.pk)
        messages.success(request, f"Mapped {mapped} agents in {unit.name}.")
        return redirect(f"{reverse('accounts:mapping')}?business_unit={unit.pk}")

    stored = review.ticks_stored(request.session, unit_id=unit.pk)
    if request.method == "POST" and step == "tick" and stored is not None:
        # A tick over htmx: the page's ticks replace what was stored for its agents;
        # nothing else needs the proposals.
        shown = _posted_ids(request, "shown")
        ticks = (stored - shown) | (_posted_ids(request, "include") & shown)
        review.ticks_save(request.session, unit_id=unit.pk, ticks=ticks)
        return render(request, "accounts/automap.html#selection", {"ticked": len(ticks)})

    proposals = services.automap_proposals(business_unit=unit)
    _remember_verdicts(proposals)
    ticks = stored if stored is not None else review.ticks_initial(proposals)
    query = _review_query(request)
    hits = _review_search(unit, query)
    if request.method == "POST":
        return _automap_post(request, unit, proposals, ticks, query, hits)
    if stored is None:
        review.ticks_save(request.session, unit_id=unit.pk, ticks=ticks)
    groups = review.review_groups(proposals, ticks=ticks, only=hits)
    group = review.group_chosen(groups, request.GET.get("group", ""))
    page = Paginator(group.proposals, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "unit": unit,
        "groups": groups,
        "group": group,
        "page": page,
        "rows": _review_rows(list(page.object_list)),
        "ticks": ticks,
        "ticked": len(ticks),
        "q": query,
        "unmapped": len(proposals),
    }
    return render(request, "accounts/automap.html", context)


def _automap_post(
    request: HttpRequest,
    unit: BusinessUnit,
    proposals: list[Proposal],
    ticks: set[int],
    query: str,
    hits: set[int] | None,
) -> HttpResponse:
    # The ticks of the page the admin was on count whatever the button: without
    # JavaScript they arrive only now.
    shown = _posted_ids(request, "shown")
    ticks = (ticks - shown) | (_posted_ids(request, "include") & shown)
    groups = review.review_groups(proposals, ticks=ticks, only=hits)
    group = review.group_chosen(groups, request.POST.get("group", ""))
    selection = request.POST.get("select", "")
    if selection in ("group", "group_none") and group.tickable:
        members = {p.agent_id for p in group.proposals}
        ticks = ticks | members if selection == "group" else ticks - members
    elif selection == "reset":
        ticks = review.ticks_initial(proposals)
    review.ticks_save(request.session, unit_id=unit.pk, ticks=ticks)
    if request.POST.get("step") == "confirm":
        return _automap_confirm(request, unit, proposals, ticks)
    if request.htmx:
        return render(request, "accounts/automap.html#selection", {"ticked": len(ticks)})
    params = {"group": group.key, "page": request.POST.get("goto") or request.POST.get("page")}
    if query:
        params["q"] = query
    params = {key: value for key, value in params.items() if value}
    return redirect(f"{reverse('accounts:automap', args=[unit.pk])}?{urlencode(params)}")


def _automap_confirm(
    request: HttpRequest, unit: BusinessUnit, proposals: list[Proposal], ticks: set[int]
) -> HttpResponse:
    matched = [p for p in proposals if p.status == MatchStatus.MATCHED and p.chosen]
    chosen = [p for p in matched if p.agent_id in ticks]
    by_group = {key: 0 for key in review.TICKABLE}
    for proposal in chosen:
        by_group[review.review_group(proposal)] += 1
    context = {
        "unit": unit,
        "agent_ids": [p.agent_id for p in chosen],
        "count": len(chosen),
        "by_group": by_group,
        "excluded": len(matched) - len(chosen),
        "effects": presence_services.mapping_acd_effect(agent_ids=[p.agent_id for p in chosen]),
    }
    return render(request, "accounts/automap_confirm.html", context)

"""The live presence board and an agent's sync history.

The board's table is a partial of the same template: the page polls it every
3 seconds with the filters' current values, so only the table is swapped and
the filters the supervisor is typing into are left alone.
"""

from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.models import Agent, AgentTeam, BusinessUnit
from graph.presence import AVAILABILITIES
from presence.models import AcdState
from presence.rules import core
from presence.sync_models import AgentPresence, SyncRecord
from presence.to_acd.sync import MANUAL_ADVICE

BOARD = "presence/sync/board.html"
HISTORY = "presence/sync/history.html"
PAGE_SIZE = 50
POLL_SECONDS = 3
NO_STATE = "none"


class TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: AgentTeam) -> str:
        return f"{obj.name} ({obj.business_unit.name})"


class BoardFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.all(), required=False, empty_label="All units", label="Unit"
    )
    team = TeamChoiceField(
        queryset=AgentTeam.objects.select_related("business_unit"),
        required=False,
        empty_label="All teams",
        label="Team",
    )
    acd_state = forms.ChoiceField(
        choices=[("", "Any ACD state"), *AcdState.choices, (NO_STATE, "No state yet")],
        required=False,
        label="ACD state",
    )
    availability = forms.ChoiceField(
        choices=[("", "Any Teams availability"), *((a, a) for a in AVAILABILITIES)],
        required=False,
        label="Teams",
    )
    manual = forms.BooleanField(required=False, label="Manual status in Teams only")


def _board_agents(form: BoardFilterForm) -> QuerySet[Agent]:
    agents = Agent.objects.select_related(
        "business_unit", "presence", "mapping__directory_user"
    ).order_by("name", "id")
    if not form.is_valid():
        return agents
    data = form.cleaned_data
    if data["business_unit"]:
        agents = agents.filter(business_unit=data["business_unit"])
    if data["team"]:
        agents = agents.filter(teams=data["team"])
    if data["acd_state"] == NO_STATE:
        agents = agents.filter(Q(presence__isnull=True) | Q(presence__acd_state=""))
    elif data["acd_state"]:
        agents = agents.filter(presence__acd_state=data["acd_state"])
    if data["availability"]:
        agents = agents.filter(presence__teams_availability=data["availability"])
    if data["manual"]:
        agents = agents.filter(presence__manual_in_teams=True)
    query = data["q"].strip()
    if query:
        agents = agents.filter(
            Q(name__icontains=query)
            | Q(external_id__icontains=query)
            | Q(email__icontains=query)
            | Q(mapping__directory_user__user_principal_name__icontains=query)
            | Q(mapping__directory_user__display_name__icontains=query)
        )
    return agents


def _presence(agent: Agent) -> AgentPresence | None:
    return getattr(agent, "presence", None)  # the reverse one-to-one raises when missing


def _acd_label(presence: AgentPresence | None) -> str:
    """``Unavailable (Lunch)``, or "" before the first event."""
    if presence is None or not presence.acd_state:
        return ""
    return core.acd_state_label(presence.acd_state, presence.acd_reason or None)


def _rows(agents) -> list[dict]:
    rows = []
    for agent in agents:
        presence = _presence(agent)
        changes = [presence.acd_changed_at, presence.teams_changed_at] if presence else []
        changes = [when for when in changes if when is not None]
        rows.append(
            {
                "agent": agent,
                "presence": presence,
                "mapping": getattr(agent, "mapping", None),
                "acd_label": _acd_label(presence),
                "last_change": max(changes) if changes else None,
            }
        )
    return rows


@require_GET
@permission_required("presence.view_agentpresence", raise_exception=True)
def board(request: HttpRequest) -> HttpResponse:
    form = BoardFilterForm(request.GET)
    page = Paginator(_board_agents(form), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": _rows(page),
        "manual_advice": MANUAL_ADVICE,
        "poll_seconds": POLL_SECONDS,
    }
    if request.htmx and request.htmx.target == "board-table":
        return render(request, f"{BOARD}#table", context)
    return render(request, BOARD, context)


@require_GET
@permission_required("presence.view_syncrecord", raise_exception=True)
def agent_history(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = get_object_or_404(
        Agent.objects.select_related("business_unit", "presence", "mapping__directory_user"),
        pk=agent_id,
    )
    records = SyncRecord.objects.filter(agent=agent).order_by("-created_at", "-id")
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    presence = _presence(agent)
    context = {
        "agent": agent,
        "presence": presence,
        "acd_label": _acd_label(presence),
        "mapping": getattr(agent, "mapping", None),
        "page": page,
        "manual_advice": MANUAL_ADVICE,
    }
    if request.htmx and request.htmx.target == "history-table":
        return render(request, f"{HISTORY}#table", context)
    return render(request, HISTORY, context)

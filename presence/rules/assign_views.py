"""Who uses which rule: the assignment pickers, an agent's effective rule with its
preview, and the agents left without a rule."""

from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Agent, AgentTeam
from graph.presence import ACTIVITIES, AVAILABILITIES
from presence.models import AcdState, PresenceRule
from presence.rules import core, preview, services
from presence.rules.forms import (
    AgentRuleForm,
    UnitFilterForm,
    preview_choice,
    reason_labels,
    whole_number,
)
from presence.rules.views import ruleless_agent_ids

LIST_LIMIT = 200  # options shown per list; search narrows the rest
PAGE_SIZE = 50
MAX_PRIORITY = 32767  # PositiveSmallIntegerField
TEAMS, USERS = "teams", "users"


@dataclass
class Picker:
    """One step of the assignment screen as the user has it: the assigned ids (carried
    in a hidden input until Save), the two searches, and the teams' priorities."""

    step: str
    assigned: list[int]
    q_available: str = ""
    q_assigned: str = ""
    priorities: dict[int, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    priority_errors: dict[int, str] = field(default_factory=dict)


def _ids(values: list[str]) -> list[int]:
    numbers = (whole_number(value) for value in values)
    return list(dict.fromkeys(number for number in numbers if number is not None))


def _items(step: str) -> QuerySet:
    if step == TEAMS:
        return AgentTeam.objects.select_related("rule_assignment__rule", "business_unit")
    return Agent.objects.select_related("rule_assignment__rule", "business_unit")


def _search(items: QuerySet, step: str, query: str) -> QuerySet:
    query = query.replace("\x00", "")  # PostgreSQL cannot compare it; no name holds one
    if not query:
        return items
    if step == TEAMS:
        return items.filter(name__icontains=query)
    return items.filter(
        Q(name__icontains=query) | Q(email__icontains=query) | Q(external_id__iexact=query)
    )


def _current(rule: PresenceRule, step: str) -> Picker:
    if step == TEAMS:
        assignments = rule.team_assignments.order_by("team__name")
        return Picker(
            step,
            [a.team_id for a in assignments],
            priorities={
                a.team_id: "" if a.priority is None else str(a.priority) for a in assignments
            },
        )
    return Picker(step, list(rule.agent_assignments.values_list("agent_id", flat=True)))


def _posted(request: HttpRequest, rule: PresenceRule, step: str) -> Picker:
    picker = Picker(
        step,
        _ids(request.POST.get("assigned_ids", "").split(",")),
        q_available=request.POST.get("q_available", "").strip(),
        q_assigned=request.POST.get("q_assigned", "").strip(),
    )
    if step == TEAMS:
        saved = dict(rule.team_assignments.values_list("team_id", "priority"))
        for team_id in picker.assigned:
            default = saved.get(team_id)
            posted = request.POST.get(f"priority-{team_id}")
            picker.priorities[team_id] = (
                posted.strip() if posted is not None else "" if default is None else str(default)
            )
    return picker


def _apply(picker: Picker, rule: PresenceRule, op: str, request: HttpRequest) -> None:
    """Move items between the lists; nothing is saved until Save."""
    unit_items = _items(picker.step).filter(business_unit=rule.business_unit)
    assigned = set(picker.assigned)
    if op == "add":
        picker.assigned += [
            i for i in _ids(request.POST.getlist("pick_available")) if i not in assigned
        ]
    elif op == "remove":
        removed = set(_ids(request.POST.getlist("pick_assigned")))
        picker.assigned = [i for i in picker.assigned if i not in removed]
    elif op == "add_all":
        shown = _search(unit_items.exclude(pk__in=assigned), picker.step, picker.q_available)
        picker.assigned += list(shown.values_list("pk", flat=True))
    elif op == "remove_all":
        shown = set(
            _search(unit_items.filter(pk__in=assigned), picker.step, picker.q_assigned).values_list(
                "pk", flat=True
            )
        )
        picker.assigned = [i for i in picker.assigned if i not in shown]


def _priorities(picker: Picker) -> dict[int, int | None] | None:
    """The posted priorities as numbers, or None after noting each bad one."""
    result: dict[int, int | None] = {}
    for team_id in picker.assigned:
        text = picker.priorities.get(team_id, "")
        number = whole_number(text, max_value=MAX_PRIORITY)
        if not text:
            result[team_id] = None
        elif number is not None:
            result[team_id] = number
        else:
            picker.priority_errors[team_id] = (
                f"A priority is a whole number from 0 to {MAX_PRIORITY}; leave it empty for none."
            )
    return None if picker.priority_errors else result


def _save(request: HttpRequest, rule: PresenceRule, picker: Picker) -> bool:
    """Save the step; False (nothing saved) with the reason on the picker."""
    try:
        if picker.step == USERS:
            services.rule_assign_agents(actor=request.user, rule=rule, agent_ids=picker.assigned)
            return True
        priorities = _priorities(picker)
        if priorities is None:
            return False
        with transaction.atomic():
            services.rule_assign_teams(actor=request.user, rule=rule, team_ids=picker.assigned)
            for assignment in rule.team_assignments.select_related("team"):
                wanted = priorities.get(assignment.team_id)
                if assignment.priority != wanted:
                    services.team_rule_set(
                        actor=request.user, team=assignment.team, rule=rule, priority=wanted
                    )
        return True
    except services.AssignmentError as exc:
        picker.errors.append(str(exc))
        return False


@require_http_methods(["GET", "POST"])
@permission_required("presence.view_presencerule", raise_exception=True)
def rule_assign(request: HttpRequest, rule_id: int, step: str = TEAMS) -> HttpResponse:
    """The "Teams" and "Users" steps: dual-list pickers kept on the server, so they
    work without JavaScript; htmx swaps the picker in place."""
    rule = get_object_or_404(PresenceRule.objects.select_related("business_unit"), pk=rule_id)
    can_assign = request.user.has_perm("presence.assign_presencerule")
    if request.method == "GET":
        picker = _current(rule, step)
    else:
        if not can_assign:
            raise PermissionDenied
        picker = _posted(request, rule, step)
        op = request.POST.get("op", "")
        if op == "save":
            if _save(request, rule, picker):
                count = len(picker.assigned)
                noun = ("team" if step == TEAMS else "user") + ("" if count == 1 else "s")
                messages.success(request, f"Saved: {rule.name} is assigned to {count} {noun}.")
                url = request.path
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        else:
            _apply(picker, rule, op, request)
    context = _picker_context(rule, picker, can_assign)
    template = "presence/rule_assign.html"
    if request.htmx and request.htmx.target == "picker-body":
        template += "#picker_body"
    return render(request, template, context)


def _label(item, rule: PresenceRule, step: str, *, assigned: bool) -> str:
    """The option's text; its suffix tells what Save will do to the item's saved rule.

    An item of another rule moved to the assigned list leaves that rule on Save, so it
    no longer says it uses it "now".
    """
    label = item.name if step == TEAMS else f"{item.name} ({item.external_id})"
    if item.business_unit_id != rule.business_unit_id:
        return f"{label} · {item.business_unit.name}"
    current = getattr(item, "rule_assignment", None)
    if current is not None and current.rule_id != rule.pk:
        verb = "moves from" if assigned else "now"
        return f"{label} · {verb} {current.rule.name}"
    return label


def _picker_context(rule: PresenceRule, picker: Picker, can_assign: bool) -> dict:
    items = _items(picker.step)
    available = _search(
        items.filter(business_unit=rule.business_unit).exclude(pk__in=picker.assigned),
        picker.step,
        picker.q_available,
    )
    assigned = _search(items.filter(pk__in=picker.assigned), picker.step, picker.q_assigned)
    available_count, assigned_count = available.count(), assigned.count()
    assigned_items = list(assigned[:LIST_LIMIT])
    return {
        "rule": rule,
        "picker": picker,
        "step": picker.step,
        "noun": "teams" if picker.step == TEAMS else "users",
        "can_assign": can_assign,
        "assigned_ids": ",".join(str(i) for i in picker.assigned),
        "available": [
            (item.pk, _label(item, rule, picker.step, assigned=False))
            for item in available[:LIST_LIMIT]
        ],
        "available_count": available_count,
        "assigned": [
            (item.pk, _label(item, rule, picker.step, assigned=True)) for item in assigned_items
        ],
        "assigned_count": assigned_count,
        "total_assigned": len(picker.assigned),
        # Every assigned team, whatever the search shows, so no typed priority is lost.
        "priority_rows": [
            {
                "team": team,
                "value": picker.priorities.get(team.pk, ""),
                "error": picker.priority_errors.get(team.pk, ""),
            }
            for team in AgentTeam.objects.filter(pk__in=picker.assigned).order_by("name")
        ]
        if picker.step == TEAMS
        else [],
        "limit": LIST_LIMIT,
    }


# One agent's rule ------------------------------------------------------------------


def _source_label(effective: core.Effective) -> str:
    if effective.source == core.Source.AGENT:
        return "User assigned rule"
    if effective.source == core.Source.TEAM:
        return f"Team assigned rule: {effective.team_name}"
    if effective.source == core.Source.CONFLICT:
        names = sorted({team.team_name for team in effective.conflict})
        return f"Conflict between teams: {', '.join(names)}"
    return "No rule"


def _preview(request: HttpRequest, agent: Agent, spec: core.RuleSpec | None) -> dict:
    codes = list(agent.business_unit.reason_codes.all())
    labels = reason_labels(codes)
    acd_state = preview_choice(request.GET.get("acd_state"), AcdState.values, AcdState.AVAILABLE)
    reason = preview_choice(request.GET.get("reason_code"), list(labels), "")
    availability = preview_choice(request.GET.get("availability"), AVAILABILITIES, "Available")
    activity = preview_choice(request.GET.get("activity"), ACTIVITIES, "Available")
    if spec is None:
        publisher = subscriber = "No rule applies to this agent: nothing is synced."
    else:
        state = core.AcdState(acd_state)
        publisher = preview.preview_publisher(spec, state, reason or None, reason_labels=labels)
        subscriber = preview.preview_subscriber(spec, availability, activity, reason_labels=labels)
    return {
        "acd_states": AcdState.choices,
        "reason_codes": codes,
        "availabilities": AVAILABILITIES,
        "activities": ACTIVITIES,
        "chosen": {
            "acd_state": acd_state,
            "reason_code": reason,
            "availability": availability,
            "activity": activity,
        },
        "publisher_input": core.acd_state_label(acd_state, reason or None, reason_labels=labels),
        "publisher_sentence": publisher,
        "subscriber_input": core.teams_label(availability, activity),
        "subscriber_sentence": subscriber,
    }


@require_http_methods(["GET", "POST"])
@permission_required("presence.view_presencerule", raise_exception=True)
def agent_rule(request: HttpRequest, agent_id: int) -> HttpResponse:
    """The rule in force for one agent, where it comes from, a preview, and "Assign rule"."""
    agent = get_object_or_404(Agent.objects.select_related("business_unit"), pk=agent_id)
    unit = agent.business_unit
    can_assign = request.user.has_perm("presence.assign_presencerule")
    own = getattr(agent, "rule_assignment", None)
    if request.method == "POST":
        if not can_assign:
            raise PermissionDenied
        form = AgentRuleForm(request.POST, business_unit=unit)
        if form.is_valid():
            chosen = form.cleaned_data["rule"] if form.cleaned_data["source"] == form.USER else None
            try:
                services.agent_rule_set(actor=request.user, agent=agent, rule=chosen)
            except services.AssignmentError as exc:
                form.add_error("rule", str(exc))
            else:
                messages.success(
                    request,
                    f"{agent.name} now uses {chosen.name}."
                    if chosen
                    else f"{agent.name} now follows its teams' rule.",
                )
                return redirect("presence:agent_rule", agent_id=agent.pk)
    else:
        source = AgentRuleForm.USER if own else AgentRuleForm.TEAM
        initial = {"source": source, "rule": own.rule_id if own else None}
        form = AgentRuleForm(initial=initial, business_unit=unit)

    effective = services.agent_effective_rule(agent)
    rule = PresenceRule.objects.filter(pk=effective.rule.id).first() if effective.rule else None
    spec = services.rule_spec(rule) if rule else None
    team_rows = [
        {"team": team, "assignment": getattr(team, "rule_assignment", None)}
        for team in agent.teams.select_related("rule_assignment__rule").order_by("name")
    ]
    context = {
        "agent": agent,
        "effective": effective,
        "rule": rule,
        "source_label": _source_label(effective),
        "description": preview.describe_effective(effective),
        "internal_note": preview.internal_call_note(),
        "team_rows": team_rows,
        "form": form,
        "can_assign": can_assign,
        **_preview(request, agent, spec),
    }
    if request.htmx and request.method == "GET" and request.htmx.target == "rule-preview":
        return render(request, "presence/agent_rule.html#preview", context)
    return render(request, "presence/agent_rule.html", context)


@require_GET
@permission_required("presence.view_presencerule", raise_exception=True)
def unassigned(request: HttpRequest) -> HttpResponse:
    """Agents with no effective rule, or whose teams' rules conflict."""
    form = UnitFilterForm(request.GET)
    agents = Agent.objects.all()
    if form.is_valid() and form.cleaned_data["business_unit"]:
        agents = agents.filter(business_unit=form.cleaned_data["business_unit"])
    page = Paginator(ruleless_agent_ids(agents), PAGE_SIZE).get_page(request.GET.get("page"))
    by_id = (
        Agent.objects.select_related("business_unit")
        .prefetch_related("teams")
        .in_bulk(list(page.object_list))
    )
    page_agents = [by_id[pk] for pk in page.object_list if pk in by_id]
    effective = services.effective_rules(page_agents)
    rows = [
        {
            "agent": agent,
            "effective": effective[agent.pk],
            "description": preview.describe_effective(effective[agent.pk]),
        }
        for agent in page_agents
    ]
    context = {"form": form, "page": page, "rows": rows}
    if request.htmx and request.htmx.target == "unassigned-table":
        return render(request, "presence/unassigned.html#table", context)
    return render(request, "presence/unassigned.html", context)

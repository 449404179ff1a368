"""Presence rules: the rule list, the rule editor, delete, and reason codes.

Assignment (the dual-list pickers), the agent's effective-rule screen and the
list of agents without a rule are in assign_views.py.
"""

from itertools import batched

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Agent, BusinessUnit
from presence.models import (
    AcdState,
    AgentRuleAssignment,
    PresenceRule,
    PublisherRow,
    ReasonCode,
    SubscriberRow,
    TeamRuleAssignment,
)
from presence.rules import services
from presence.rules.forms import (
    EditorState,
    ReasonCodeForm,
    action_label,
    editor_apply,
    editor_from_post,
    editor_from_rule,
    editor_new,
    editor_rows_for_display,
    editor_show_problems,
    whole_number,
)

EDITOR = "presence/rule_editor.html"


def ruleless_agent_ids(agents: QuerySet[Agent]) -> list[int]:
    """Ids (by name) of the agents with no effective rule: no rule of their own and
    either no team with a rule, or teams whose rules disagree with no priority
    settling it. The core decides the disagreements, a few agents at a time."""
    candidates = (
        agents.filter(rule_assignment__isnull=True)
        .annotate(team_rules=Count("teams__rule_assignment__rule", distinct=True))
        .exclude(team_rules=1)
        .order_by("name", "id")
        .values_list("pk", "team_rules")
    )
    rows = list(candidates)
    settled: set[int] = set()
    for chunk in batched((pk for pk, team_rules in rows if team_rules > 1), 500):
        effective = services.effective_rules(list(Agent.objects.filter(pk__in=chunk).only("pk")))
        settled |= {pk for pk, result in effective.items() if result.rule is not None}
    return [pk for pk, _ in rows if pk not in settled]


def _counts(model, field: str = "rule") -> dict[int, int]:
    rows = model.objects.values(field).annotate(n=Count("pk")).values_list(field, "n")
    return dict(rows)


@require_GET
@permission_required("presence.view_presencerule", raise_exception=True)
def rule_list(request: HttpRequest) -> HttpResponse:
    counts = {
        "publisher": _counts(PublisherRow),
        "subscriber": _counts(SubscriberRow),
        "teams": _counts(TeamRuleAssignment),
        "agents": _counts(AgentRuleAssignment),
    }
    rules_by_unit: dict[int, list[dict]] = {}
    for rule in PresenceRule.objects.all():
        rules_by_unit.setdefault(rule.business_unit_id, []).append(
            {"rule": rule, **{name: count.get(rule.pk, 0) for name, count in counts.items()}}
        )
    units = [
        {"unit": unit, "rules": rules_by_unit.get(unit.pk, [])}
        for unit in BusinessUnit.objects.all()
    ]
    context = {
        "units": units,
        "ruleless_count": len(ruleless_agent_ids(Agent.objects.all())),
        "can_add": request.user.has_perm("presence.add_presencerule"),
    }
    return render(request, "presence/rule_list.html", context)


def _unit_from_query(request: HttpRequest) -> BusinessUnit:
    unit_id = whole_number(request.GET.get("business_unit", ""))
    if unit_id is None:
        raise Http404("Choose a business unit")
    return get_object_or_404(BusinessUnit, pk=unit_id)


@require_http_methods(["GET", "POST"])
@permission_required("presence.add_presencerule", raise_exception=True)
def rule_create(request: HttpRequest) -> HttpResponse:
    return _editor(request, _unit_from_query(request), None, can_edit=True)


@require_http_methods(["GET", "POST"])
@permission_required("presence.view_presencerule", raise_exception=True)
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(PresenceRule.objects.select_related("business_unit"), pk=rule_id)
    can_edit = request.user.has_perm("presence.change_presencerule")
    return _editor(request, rule.business_unit, rule, can_edit=can_edit)


def _editor(
    request: HttpRequest, unit: BusinessUnit, rule: PresenceRule | None, *, can_edit: bool
) -> HttpResponse:
    """One form, many buttons: ``op=save`` saves everything in one transaction; any
    other op (add, delete, move a row) re-renders the form with it applied."""
    if request.method == "GET":
        state = editor_from_rule(rule) if rule else editor_new()
        return render(request, EDITOR, _editor_context(request, unit, rule, state, can_edit))
    if not can_edit:
        raise PermissionDenied
    state = editor_from_post(request.POST)
    op = request.POST.get("op", "")
    if op != "save":
        editor_apply(state, op)
    else:
        pub_rows, sub_rows = state.inputs()
        try:
            saved = services.rule_save(
                actor=request.user,
                business_unit=unit,
                name=state.name,
                direction=state.direction,
                publisher_rows=pub_rows,
                subscriber_rows=sub_rows,
                rule=rule,
                on_mapping=state.on_mapping,
            )
        except services.RuleInvalid as exc:
            editor_show_problems(state, exc.problems)
        else:
            messages.success(request, f"Saved rule {saved.name}.")
            url = reverse("presence:rule_edit", args=[saved.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    template = f"{EDITOR}#editor" if request.htmx else EDITOR
    return render(request, template, _editor_context(request, unit, rule, state, can_edit))


def _editor_context(
    request: HttpRequest,
    unit: BusinessUnit,
    rule: PresenceRule | None,
    state: EditorState,
    can_edit: bool,
) -> dict:
    reason_codes = list(unit.reason_codes.all())
    pub_rows, sub_rows = editor_rows_for_display(state, reason_codes)
    # For the read-only view.
    reason_names = {reason.code: reason.name for reason in reason_codes}
    state_names = dict(AcdState.choices)
    for row in [*pub_rows, *sub_rows]:
        row["reason_name"] = reason_names.get(row["row"].reason_code, "")
        row["acd_label"] = state_names.get(row["row"].acd_state, row["row"].acd_state)
    for row in pub_rows:
        row["action_label"] = action_label(row["row"])
    return {
        "unit": unit,
        "rule": rule,
        "state": state,
        "pub_rows": pub_rows,
        "sub_rows": sub_rows,
        "directions": PresenceRule.Direction.choices,
        "direction_label": dict(PresenceRule.Direction.choices).get(state.direction, ""),
        # A direction the editor does not know keeps both tables, next to its error.
        "uses_publisher": state.direction != PresenceRule.Direction.TO_ACD,
        "uses_subscriber": state.direction != PresenceRule.Direction.TO_TEAMS,
        "on_mapping_choices": PresenceRule.OnMapping.choices,
        "on_mapping_label": dict(PresenceRule.OnMapping.choices).get(state.on_mapping, ""),
        "can_edit": can_edit,
        "can_delete": rule is not None and request.user.has_perm("presence.delete_presencerule"),
        "can_assign": rule is not None and request.user.has_perm("presence.assign_presencerule"),
        "action_url": request.get_full_path(),
    }


@require_http_methods(["GET", "POST"])
@permission_required("presence.delete_presencerule", raise_exception=True)
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(PresenceRule.objects.select_related("business_unit"), pk=rule_id)
    error = ""
    if request.method == "POST":
        try:
            services.rule_delete(actor=request.user, rule=rule)
        except services.RuleInUse as exc:
            error = str(exc)
        else:
            messages.success(request, f"Deleted rule {rule.name}.")
            return redirect("presence:rule_list")
    teams, agents = services.rule_usage(rule)
    context = {"rule": rule, "error": error, "teams": teams, "agents": agents}
    return render(request, "presence/rule_delete.html", context, status=409 if error else 200)


@require_http_methods(["GET", "POST"])
@permission_required("presence.view_reasoncode", raise_exception=True)
def reason_codes(request: HttpRequest) -> HttpResponse:
    """A unit's unavailable reason codes; admins add and rename them."""
    units = list(BusinessUnit.objects.all())
    unit_id = request.GET.get("business_unit", "")
    unit = next((u for u in units if str(u.pk) == unit_id), units[0] if units else None)
    can_edit = request.user.has_perm("presence.add_reasoncode") and request.user.has_perm(
        "presence.change_reasoncode"
    )
    form = ReasonCodeForm(prefix="new")
    error = ""
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if unit is None:
            raise Http404("No business unit")
        here = f"{reverse('presence:reason_codes')}?business_unit={unit.pk}"
        op = request.POST.get("op", "")
        if op == "standard":
            services.reason_codes_ensure(unit)
            messages.success(request, f"Added the standard reason codes to {unit.name}.")
            return redirect(here)
        posted = ReasonCodeForm(request.POST, prefix="new" if op == "add" else None)
        if posted.is_valid():
            code, name = posted.cleaned_data["code"], posted.cleaned_data["name"]
            exists = unit.reason_codes.filter(code=code).exists()
            if op == "add" and exists:
                error = f"{code} is already a reason code of {unit.name}; rename it below."
            elif op != "add" and not exists:
                error = f"{code} is not a reason code of {unit.name}."
            else:
                services.reason_code_upsert(
                    actor=request.user, business_unit=unit, code=code, name=name
                )
                verb = "Added" if op == "add" else "Renamed"
                messages.success(request, f"{verb} reason code {code}: {name}.")
                return redirect(here)
        elif op == "add":
            form = posted
        else:
            error = "Give the reason code a name (up to 100 characters)."
    context = {
        "units": units,
        "unit": unit,
        "codes": ReasonCode.objects.filter(business_unit=unit) if unit else [],
        "form": form,
        "error": error,
        "can_edit": can_edit,
    }
    return render(request, "presence/reason_codes.html", context)

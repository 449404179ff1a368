from django.urls import path

from presence import assign_views, views

app_name = "presence"

urlpatterns = [
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/unassigned/", assign_views.unassigned, name="unassigned"),
    path("rules/reasons/", views.reason_codes, name="reason_codes"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<int:rule_id>/assign/", assign_views.rule_assign, name="rule_assign"),
    path(
        "rules/<int:rule_id>/assign/users/",
        assign_views.rule_assign,
        {"step": assign_views.USERS},
        name="rule_assign_users",
    ),
    path("agents/<int:agent_id>/rule/", assign_views.agent_rule, name="agent_rule"),
]

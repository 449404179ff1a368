"""Every presence screen and endpoint, each pointing straight at its view.

Two URL namespaces, kept from before the split so templates and bookmarks still
resolve: "presence" for rules and their assignment, "sync" for everything that
keeps presence in sync (system users, subscriptions, the Graph webhook, the ACD
webhook settings, the board).
"""

from django.urls import include, path

from presence.board import views as board_views
from presence.rules import assign_views
from presence.rules import views as rule_views
from presence.subscriptions import views as subscription_views
from presence.to_acd import views as acd_views
from presence.webhook import views as webhook_views

rule_urlpatterns = [
    path("rules/", rule_views.rule_list, name="rule_list"),
    path("rules/new/", rule_views.rule_create, name="rule_create"),
    path("rules/unassigned/", assign_views.unassigned, name="unassigned"),
    path("rules/reasons/", rule_views.reason_codes, name="reason_codes"),
    path("rules/<int:rule_id>/", rule_views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", rule_views.rule_delete, name="rule_delete"),
    path("rules/<int:rule_id>/assign/", assign_views.rule_assign, name="rule_assign"),
    path(
        "rules/<int:rule_id>/assign/users/",
        assign_views.rule_assign,
        {"step": assign_views.USERS},
        name="rule_assign_users",
    ),
    path("agents/<int:agent_id>/rule/", assign_views.agent_rule, name="agent_rule"),
]

sync_urlpatterns = [
    # System users and subscription health.
    path("system-users/", subscription_views.system_users, name="system_users"),
    path(
        "system-users/create/",
        subscription_views.system_users_create,
        name="system_users_create",
    ),
    path(
        "system-users/<int:pk>/check/",
        subscription_views.system_user_check_view,
        name="system_user_check",
    ),
    path(
        "system-users/<int:pk>/password/",
        subscription_views.system_user_password,
        name="system_user_password",
    ),
    path(
        "system-users/<int:pk>/enabled/",
        subscription_views.system_user_toggle,
        name="system_user_toggle",
    ),
    path(
        "system-users/<int:pk>/remove/",
        subscription_views.system_user_remove_view,
        name="system_user_remove",
    ),
    path("subscriptions/", subscription_views.subscriptions, name="subscriptions"),
    path("subscriptions/sync/", subscription_views.subscriptions_sync, name="subscriptions_sync"),
    path(
        "subscriptions/certificate/rotate/",
        subscription_views.certificate_rotate_view,
        name="certificate_rotate",
    ),
    # Teams → contact center: Graph's webhook, and the ACD webhook it feeds.
    path("graph/notifications", webhook_views.graph_notifications, name="graph_notifications"),
    path("graph/lifecycle", webhook_views.graph_lifecycle, name="graph_lifecycle"),
    path("sync/acd/", acd_views.acd_settings, name="acd_settings"),
    path("sync/acd/test/", acd_views.acd_test, name="acd_test"),
    path("sync/acd/dead-letters/", acd_views.acd_dead_letters, name="acd_dead_letters"),
    path(
        "sync/acd/dead-letters/<int:delivery_id>/replay/",
        acd_views.acd_replay,
        name="acd_replay",
    ),
    path("sync/acd/dead-letters/replay-all/", acd_views.acd_replay_all, name="acd_replay_all"),
    # Both directions side by side.
    path("board/", board_views.board, name="board"),
    path("agents/<int:agent_id>/history/", board_views.agent_history, name="agent_history"),
]

urlpatterns = [
    path("", include((rule_urlpatterns, "presence"))),
    path("", include((sync_urlpatterns, "sync"))),
]

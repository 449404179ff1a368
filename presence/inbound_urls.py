"""Teams → contact center routes: the Graph webhook and the ACD webhook settings."""

from django.urls import path

from presence import acd_views, webhook

urlpatterns = [
    path("graph/notifications", webhook.graph_notifications, name="graph_notifications"),
    path("graph/lifecycle", webhook.graph_lifecycle, name="graph_lifecycle"),
    path("sync/acd/", acd_views.acd_settings, name="acd_settings"),
    path("sync/acd/test/", acd_views.acd_test, name="acd_test"),
    path("sync/acd/dead-letters/", acd_views.acd_dead_letters, name="acd_dead_letters"),
    path(
        "sync/acd/dead-letters/<int:delivery_id>/replay/",
        acd_views.acd_replay,
        name="acd_replay",
    ),
    path("sync/acd/dead-letters/replay-all/", acd_views.acd_replay_all, name="acd_replay_all"),
]

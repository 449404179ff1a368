"""Routes of the contact center → Teams side (namespace "sync"): the board and history."""

from django.urls import path

from presence import board_views

urlpatterns = [
    path("board/", board_views.board, name="board"),
    path("agents/<int:agent_id>/history/", board_views.agent_history, name="agent_history"),
]

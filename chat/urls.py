"""Routes of expert chat (namespace "chat"): the Chats screen, the Graph chat webhook,
signed image links, and the chat service account form."""

from django.urls import path

from chat import media, views, webhook

app_name = "chat"

urlpatterns = [
    path("chats/", views.conferences, name="conferences"),
    path("chats/<int:pk>/", views.conference, name="conference"),
    path("graph/chat/notifications", webhook.chat_notifications, name="graph_notifications"),
    path("graph/chat/lifecycle", webhook.chat_lifecycle, name="graph_lifecycle"),
    path("chat/media/<str:token>", media.media, name="media"),
    path("chat/service-account/", views.service_account, name="service_account"),
]

from django.urls import include, path

from config import api

urlpatterns = [
    path("", include("console.urls")),
    path("", include("integrations.urls")),
    path("", include("accounts.urls")),
    path("", include("presence.urls")),
    path("", include("chat.urls")),
    path("", include("mailboxes.urls")),
    path("api/v1/", api.urls),
]

handler403 = "console.views.forbidden"

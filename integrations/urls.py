from django.urls import path

from integrations import apikey_views, views
from integrations.setup import views as setup_views

app_name = "integrations"

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/phone-types/", views.phone_types, name="phone_types"),
    path("account/messages/<str:field>/reset/", views.message_reset, name="message_reset"),
    path("account/test/", views.test_connection, name="test_connection"),
    path("account/tests/<int:pk>/", views.test_result, name="test_result"),
    path("account/delete/", views.account_delete, name="account_delete"),
    path("setup/", setup_views.setup, name="setup"),
    path("setup/manifest.json", setup_views.setup_manifest, name="setup_manifest"),
    path("setup/runs/<int:pk>/", setup_views.setup_result, name="setup_result"),
    path(
        "agents/<int:agent_id>/troubleshoot/",
        setup_views.agent_troubleshoot,
        name="agent_troubleshoot",
    ),
    path("api-keys/", apikey_views.apikey_list, name="apikey_list"),
    path("api-keys/new/", apikey_views.apikey_create, name="apikey_create"),
    path("api-keys/<int:pk>/revoke/", apikey_views.apikey_revoke, name="apikey_revoke"),
]

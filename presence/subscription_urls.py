"""Routes of system users and subscription health (namespace "sync")."""

from django.urls import path

from presence import subscription_views as views

urlpatterns = [
    path("system-users/", views.system_users, name="system_users"),
    path("system-users/create/", views.system_users_create, name="system_users_create"),
    path("system-users/<int:pk>/check/", views.system_user_check_view, name="system_user_check"),
    path(
        "system-users/<int:pk>/password/", views.system_user_password, name="system_user_password"
    ),
    path("system-users/<int:pk>/enabled/", views.system_user_toggle, name="system_user_toggle"),
    path("system-users/<int:pk>/remove/", views.system_user_remove_view, name="system_user_remove"),
    path("subscriptions/", views.subscriptions, name="subscriptions"),
    path("subscriptions/sync/", views.subscriptions_sync, name="subscriptions_sync"),
    path(
        "subscriptions/certificate/rotate/",
        views.certificate_rotate_view,
        name="certificate_rotate",
    ),
]

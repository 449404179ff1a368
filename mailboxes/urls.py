"""Routes of the Mailboxes screens (namespace "mailboxes")."""

from django.urls import path

from mailboxes import attachments, views

app_name = "mailboxes"

urlpatterns = [
    path("mailboxes/", views.mailbox_list, name="list"),
    path("mailboxes/<int:pk>/", views.mailbox_detail, name="detail"),
    path("mailboxes/<int:pk>/toggle/", views.mailbox_toggle, name="toggle"),
    path("mailboxes/<int:pk>/delete/", views.mailbox_delete, name="delete"),
    path("mailboxes/<int:pk>/test/", views.mailbox_test_start, name="test"),
    path("mailboxes/tests/<int:pk>/", views.mailbox_test_result, name="test_result"),
    path("mail/attachments/<str:token>", attachments.attachment, name="attachment"),
]

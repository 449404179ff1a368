"""Factories for mailboxes."""

import factory

from mailboxes.models import Mailbox


class MailboxFactory(factory.django.DjangoModelFactory):
    """A mailbox reached without a user through the Teams account's app."""

    class Meta:
        model = Mailbox

    address = factory.Sequence(lambda n: f"support{n}@contoso.example")
    display_name = "Support"

"""Signals other apps listen to; integrations sits below them and must not import them."""

from django.dispatch import Signal

# Sent inside the deleting transaction. Receivers disable Teams integration for
# everything that depended on the account (agents, in accounts/) and return
# how many rows they changed.
integration_account_deleted = Signal()

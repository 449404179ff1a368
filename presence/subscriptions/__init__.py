"""Presence subscriptions in Graph and the system users whose delegated tokens hold them."""

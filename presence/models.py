"""Presence rules, subscriptions and sync."""

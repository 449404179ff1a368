"""Change notification subscriptions: the registry, the Graph endpoints and
the outbound delivery of notifications."""

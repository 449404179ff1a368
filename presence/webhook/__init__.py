"""Graph's notification and lifecycle URLs: verify, decrypt, count and hand over."""

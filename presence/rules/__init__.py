"""Presence rules: the pure matching core, the preview, services, forms and their screens."""

"""The demo contact center of `make run`: demo logins, the demo seed, and a process that
plays the ACD against the console's public surfaces.

Installed only when `CCBRIDGE_DEMO` is on (by default, when DEBUG is): production never
loads it, and no other app imports it. It has no models, so a production database
carries no trace of it.
"""

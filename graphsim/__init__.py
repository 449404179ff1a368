"""graphsim: a Microsoft Graph v1.0 and Microsoft identity platform simulator.

A standalone HTTPS server with an in-memory, per-tenant model of apps, users,
presence and subscriptions. It never imports the console and the console never
imports it: they meet over HTTPS only. Start it with ``python -m graphsim serve``.

Layout, as moto lays out its services. ``core/`` holds what every area uses
and knows no area: state and its files on disk (``state``, ``persist``),
certificates and keys, error shapes and the simulated clock, OData helpers,
the request and result objects, token checking, permission checks, the Graph
router, the shared ``Sim`` context and the WSGI app. Each Graph area is one
module or sub-package that exposes an ``AREA`` (``core.sim.Area``: its routes
relative to ``/v1.0``, and optionally services, housekeeping chores and
reactions to users or tenants going away): ``users``, ``groups``,
``applications``, ``presence``, ``subscriptions/`` (registry, endpoints,
notification delivery, the chat message resource rules), ``chat`` and
``batch``. ``identity/`` is the identity platform
(discovery, the token endpoint and its grants, the JWTs it mints).
``control/`` is the ``/_sim/`` API, one module per concern, each exposing
``ROUTES``. ``app.py`` is the one place they are registered and assembled;
``cli.py`` and ``launch.py`` start it. Adding an area: write its module with
an ``AREA`` and list it in ``app.AREAS``; if the control API must act in it,
add ``control/<area>.py`` and list its ``ROUTES`` in ``app.CONTROL``. Imports
point down only (core ← identity ← areas ← control ← app), never in a cycle.
"""

__all__ = ["GRAPH_APP_ID", "GRAPH_RESOURCE", "NOTIFICATION_PUBLISHER_APP_ID"]

# The well-known Microsoft Graph resource and its first-party app id (the `aud` of
# Graph access tokens may be either).
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# "Microsoft Graph Change Tracking": the `appid` claim of notification validationTokens.
NOTIFICATION_PUBLISHER_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

"""graphsim: a Microsoft Graph v1.0 and Microsoft identity platform simulator.

A standalone HTTPS server with an in-memory, per-tenant model of apps, users,
presence and subscriptions. It never imports the console and the console never
imports it: they meet over HTTPS only. Start it with ``python -m graphsim serve``.
"""

__all__ = ["GRAPH_APP_ID", "GRAPH_RESOURCE", "NOTIFICATION_PUBLISHER_APP_ID"]

# The well-known Microsoft Graph resource and its first-party app id (the `aud` of
# Graph access tokens may be either).
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# "Microsoft Graph Change Tracking": the `appid` claim of notification validationTokens.
NOTIFICATION_PUBLISHER_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

"""System checks for `manage.py check --deploy`."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def client_ip_proxy_count_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Remind production to say how many proxies stand in front of the console.

    Only a reminder: a console that callers reach directly is right to leave it
    at 0. Running processes point out a proxy they actually see (config.forwarded).
    """
    if settings.DEBUG or settings.CLIENT_IP_PROXY_COUNT > 0:
        return []
    return [
        checks.Warning(
            "CLIENT_IP_PROXY_COUNT is 0, so a caller's address is the connection's (REMOTE_ADDR).",
            hint=(
                "Behind a reverse proxy or load balancer, set CLIENT_IP_PROXY_COUNT to the "
                "number of proxies that append to X-Forwarded-For (1 behind one TLS proxy); "
                "otherwise every caller shares the proxy's address, and sign-in lockouts and "
                "the Graph webhook's limits hit everyone at once."
            ),
            id="console.W001",
        )
    ]

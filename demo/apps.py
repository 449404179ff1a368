from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo contact center"

    def stack_banner(self) -> list[str]:
        """Lines `runstack` prints under the console's address: the demo logins."""
        from demo.logins import DEMO_LOGINS

        return [
            f"  {role:<14} {username} / {password}" for username, password, role, *_ in DEMO_LOGINS
        ]

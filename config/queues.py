"""Which Celery queue each task goes to, so a person's job never waits behind bulk work.

One shared queue is first come, first served: a backfill of a few hundred ACD
deliveries or a directory sync would make Test connection wait minutes, and the
worker heartbeat expire in the queue. So work is split three ways, all named
after the base queue (CELERY_QUEUE, so each test session keeps its own):

- ``<base>.interactive``: jobs a person is watching, and the worker heartbeat;
- ``<base>.sync``: presence sync in both directions, which must stay live;
- ``<base>.bulk``: long or backfill work (directory sync, reconciliation).

The base queue itself takes anything not routed here. Workers consume several
queues in turn rather than in order, so a backlog on one never stops another;
`make run` also starts a worker of its own for the interactive queue.
"""

INTERACTIVE = "interactive"
SYNC = "sync"
BULK = "bulk"
ROLES = (INTERACTIVE, SYNC, BULK)

# By task name (the stable "<app>.<concern>.<action>" of config/celery.py).
ROUTED_TASKS = {
    INTERACTIVE: (
        "chat.conference.expire",
        "chat.conference.invite",
        "chat.conference.send",
        "chat.subscription.ensure",
        "console.health.heartbeat_record",
        "console.health.selfcheck",
        "integrations.account.read_secret_expiry",
        "integrations.account.test_connection",
        "integrations.jobs.recover_stranded",
        "integrations.setup.run",
        "mailboxes.test.run",
        "presence.subscriptions.sync",
        "presence.subscriptions.system_users_create",
    ),
    SYNC: (
        "chat.conference.invitations_expire_due",
        "chat.inbound.conferences_catch_up",
        "chat.inbound.notifications_process",
        "chat.subscription.lifecycle",
        "chat.subscription.maintain",
        "console.alerts.evaluate",
        "integrations.account.refresh_token",
        "mailboxes.inbound.catch_up",
        "mailboxes.inbound.catch_up_all",
        "mailboxes.outbound.send",
        "presence.to_acd.deliver",
        "presence.to_acd.deliveries_retry",
        "presence.to_acd.notifications_process",
        "presence.to_teams.agent_events_apply",
        "presence.to_teams.sessions_refresh",
        "presence.subscriptions.lifecycle",
        "presence.subscriptions.maintain",
    ),
    BULK: (
        "accounts.directory.sync",
        "accounts.directory.sync_when_due",
        "integrations.setup.run_nightly",
        "presence.to_acd.reconcile",
    ),
}


def queue_name(base: str, role: str) -> str:
    """The queue of ``role`` (one of ROLES) under the base queue name."""
    if role not in ROLES:
        raise ValueError(f"unknown queue role {role!r}; expected one of {', '.join(ROLES)}")
    return f"{base}.{role}"


def queues_by_role(base: str) -> dict[str, str]:
    """{role: queue name} for every role, plus "default": the base queue."""
    return {**{role: queue_name(base, role) for role in ROLES}, "default": base}


def queues_all(base: str) -> list[str]:
    """Every queue a worker that does everything consumes."""
    return list(queues_by_role(base).values())


def task_routes(base: str) -> dict[str, dict[str, str]]:
    """Celery's task_routes: {task name: {"queue": name}}."""
    return {
        task: {"queue": queue_name(base, role)}
        for role, tasks in ROUTED_TASKS.items()
        for task in tasks
    }


# Set on every task message when it is sent (config/celery.py, presence/webhook/broker.py):
# Redis keeps no time for a list item, and the dashboard shows how long work has waited.
ENQUEUED_AT_HEADER = "ccbridge_enqueued_at"

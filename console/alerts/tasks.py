"""Beat task of the alerts: a thin wrapper around the service."""

from celery import shared_task

from console.alerts.services import alerts_evaluate


@shared_task(name="console.alerts.evaluate", ignore_result=True, soft_time_limit=50, time_limit=60)
def evaluate_alerts() -> None:
    """Beat, every minute: open and clear incidents, emailing the recipients."""
    alerts_evaluate()

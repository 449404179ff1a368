"""Test connection and token health for the integration account.

Both run in the worker. Test connection walks the same path every feature
will: credentials → token → granted application permissions → a live Graph
call, and records what it found on a ConnectionTest row.
"""

import logging

from django.utils import timezone

from graph.directory import password_credentials, read_one_user
from graph.errors import AuthError, GraphError, PermissionDenied, Unavailable
from graph.permissions import FeatureCheck, FeatureStatus, admin_consent_url, check_roles
from graph.tokens import AccessToken, AppTokenProvider
from integrations.graphlink import (
    app_credentials,
    app_graph_client,
    graph_config,
    token_cache_save,
)
from integrations.jobs import JobContext
from integrations.models import ConnectionTest, IntegrationAccount, JobRun

logger = logging.getLogger(__name__)

INCOMPLETE = "Error: Account credentials are incomplete"
TOKEN_FAILED = "Error: Failed to request refresh token"
GRAPH_FAILED = "Error: Microsoft Graph did not answer"
TEST_BROKE = "Error: The test could not finish"
CONNECTED = "Connected to Microsoft Graph"
PERMISSIONS_MISSING = "Connected, but some permissions are missing"
EXPIRY_PERMISSION = "Application.Read.All"
STEPS = 4


def _token_health_record(account: IntegrationAccount, token: AccessToken) -> None:
    now = timezone.now()
    IntegrationAccount.objects.filter(pk=account.pk).update(
        token_expires_at=token.expires_at,
        token_refreshed_at=now,
        token_error="",
        token_error_at=None,
    )


def _token_failure_record(account: IntegrationAccount, message: str) -> None:
    IntegrationAccount.objects.filter(pk=account.pk).update(
        token_error=message[:2000], token_error_at=timezone.now()
    )


def _feature_row(check: FeatureCheck, granted: set[str]) -> dict:
    """A feature as the page shows it: each permission group granted or missing."""
    return {
        "key": check.feature.key,
        "name": check.feature.name,
        "status": str(check.status),
        "optional": check.feature.optional,
        "message": check.message,
        "groups": [
            {"names": list(group), "granted": any(name in granted for name in group)}
            for group in check.feature.requires
        ],
        "delegated": list(check.feature.delegated),
    }


def _finish(test: ConnectionTest, **fields) -> ConnectionTest:
    for name, value in fields.items():
        setattr(test, name, value)
    test.finished_at = timezone.now()
    test.save()
    return test


def _secret_expiry(client, account: IntegrationAccount, secret: str):
    """The end date of the secret in use, matched by its three-character hint."""
    credentials = password_credentials(client, account.object_id.strip())
    matching = [c for c in credentials if c.hint and secret.startswith(c.hint)]
    if len(matching) == 1:
        return matching[0].end
    if len(credentials) == 1:
        return credentials[0].end
    return None


def connection_test_run(*, test: ConnectionTest, ctx: JobContext | None = None) -> ConnectionTest:
    """Run every check of Test connection and store the result on `test`.

    Side effects: refreshes the account's token health; fills the secret's
    expiry from Graph when the app may read its own registration. Never raises
    for a Graph or identity failure: the failure is the result.
    """
    account = test.account
    advance = ctx.advance if ctx else (lambda done=1: None)
    if ctx:
        ctx.set_total(STEPS)

    missing = account.missing_credentials()
    if missing:
        return _finish(
            test,
            outcome=ConnectionTest.Outcome.FAILED,
            headline=INCOMPLETE,
            cause="incomplete",
            detail=f"Missing: {', '.join(missing)}.",
            missing_fields=missing,
        )
    advance()

    client, tokens = app_graph_client(account)
    try:
        token = tokens.acquire(force_refresh=True)
    except AuthError as exc:
        _token_failure_record(account, exc.sentence)
        return _finish(
            test,
            outcome=ConnectionTest.Outcome.FAILED,
            headline=TOKEN_FAILED,
            cause=str(exc.cause),
            detail=exc.sentence,
        )
    except Unavailable as exc:
        _token_failure_record(account, exc.message)
        return _finish(
            test,
            outcome=ConnectionTest.Outcome.FAILED,
            headline=TOKEN_FAILED,
            cause="network",
            detail=f"The identity platform could not be reached: {exc.message}",
        )
    token_cache_save(account, tokens)
    _token_health_record(account, token)
    advance()

    checks = check_roles(token.roles)
    features = [_feature_row(check, set(token.roles)) for check in checks]
    all_granted = not any(check.status is FeatureStatus.MISSING for check in checks)
    consent_url = admin_consent_url(
        graph_config().authority_host, account.tenant.strip(), account.client_id.strip()
    )
    advance()

    try:
        user = read_one_user(client)
    except PermissionDenied as exc:
        live = f"Graph refused to read a user: {exc.message}"
        all_granted = False
    except GraphError as exc:
        return _finish(
            test,
            outcome=ConnectionTest.Outcome.FAILED,
            headline=GRAPH_FAILED,
            cause="graph",
            detail=exc.message,
            features=features,
            roles=list(token.roles),
            consent_url=consent_url,
        )
    else:
        live = (
            f"Read {user.display_name} from the directory." if user else "The directory is empty."
        )

    expiry = None
    if EXPIRY_PERMISSION in token.roles and account.object_id.strip():
        try:
            expiry = _secret_expiry(client, account, app_credentials(account).client_secret)
        except GraphError as exc:
            logger.info("could not read the secret's expiry: %s", exc.message)
        if expiry is not None:
            IntegrationAccount.objects.filter(pk=account.pk).update(
                secret_expires_at=expiry,
                secret_expiry_source=IntegrationAccount.ExpirySource.GRAPH,
            )
    advance()

    return _finish(
        test,
        outcome=ConnectionTest.Outcome.PASSED if all_granted else ConnectionTest.Outcome.WARNING,
        headline=CONNECTED if all_granted else PERMISSIONS_MISSING,
        detail="" if all_granted else "Grant the missing permissions, then test again.",
        features=features,
        roles=list(token.roles),
        consent_url=consent_url,
        live_call=live,
        expiry_read=expiry,
    )


def connection_test_abort(*, test: ConnectionTest, error: Exception) -> ConnectionTest:
    """Record a test that could not finish for a reason of ours, not of Graph's."""
    return _finish(
        test,
        outcome=ConnectionTest.Outcome.FAILED,
        headline=TEST_BROKE,
        cause="internal",
        detail=f"{type(error).__name__}: {error}",
    )


def connection_test_settle(test: ConnectionTest | None) -> ConnectionTest | None:
    """End a pending test whose job already ended without it: the job could not be
    queued (broker down) or failed before the test ran. The page then shows the job's
    reason instead of "Testing…" polling forever."""
    if test is None or test.outcome != ConnectionTest.Outcome.PENDING or test.job is None:
        return test
    if test.job.status != JobRun.Status.FAILED:
        return test
    return _finish(
        test,
        outcome=ConnectionTest.Outcome.FAILED,
        headline=TEST_BROKE,
        cause="job",
        detail=test.job.error,
    )


def account_token_refresh(account: IntegrationAccount) -> AccessToken | None:
    """Keep the account's app token fresh (beat job); record success or the failure.

    MSAL returns the cached token while it has more than five minutes left,
    so calling this every few minutes only reaches the identity platform when
    the token is about to expire.
    """
    if account.missing_credentials():
        return None
    tokens: AppTokenProvider
    _client, tokens = app_graph_client(account)
    try:
        token = tokens.acquire()
    except (AuthError, Unavailable) as exc:
        message = exc.sentence if isinstance(exc, AuthError) else exc.message
        _token_failure_record(account, message)
        logger.warning("token refresh failed: %s", message)
        return None
    token_cache_save(account, tokens)
    _token_health_record(account, token)
    return token

"""Test connection and token health for the integration account.

Both run in the worker. Test connection walks the same path every feature
will: credentials → token → granted application permissions → a live Graph
call, and records what it found on a ConnectionTest row.
"""

import logging

from django.utils import timezone

from graph.client import GraphClient
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
VALUES_UNREADABLE = (
    "The form's values could not be read back (they are kept for an hour, for the "
    "administrator who pressed Test connection). Press Test connection again."
)
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


def account_with_values(account: IntegrationAccount, values: dict[str, str]) -> IntegrationAccount:
    """An unsaved copy of `account` holding the form's credentials; an empty secret
    keeps the stored one (the secret field is write-only, so it is usually empty)."""
    secret = values.get("client_secret", "")
    return IntegrationAccount(
        name=account.name,
        tenant=values.get("tenant", ""),
        client_id=values.get("client_id", ""),
        object_id=values.get("object_id", ""),
        client_secret=secret or account.client_secret,
    )


def connection_test_run(
    *,
    test: ConnectionTest,
    ctx: JobContext | None = None,
    values: dict[str, str] | None = None,
) -> ConnectionTest:
    """Run every check of Test connection and store the result on `test`.

    With `values` (the form's credentials, not saved), tests those and leaves the
    stored account alone. Otherwise tests the stored account and, as side
    effects, refreshes its token health and fills the secret's expiry from Graph
    when the app may read its own registration. Never raises for a Graph or
    identity failure: the failure is the result.
    """
    persist = values is None
    account = test.account if persist else account_with_values(test.account, values)
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
        if persist:
            _token_failure_record(account, exc.sentence)
        return _finish(
            test,
            outcome=ConnectionTest.Outcome.FAILED,
            headline=TOKEN_FAILED,
            cause=str(exc.cause),
            detail=exc.sentence,
        )
    except Unavailable as exc:
        if persist:
            _token_failure_record(account, exc.message)
        return _finish(
            test,
            outcome=ConnectionTest.Outcome.FAILED,
            headline=TOKEN_FAILED,
            cause="network",
            detail=f"The identity platform could not be reached: {exc.message}",
        )
    if persist:
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

    expiry = _expiry_read(client, account, token, store=persist)
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


def _expiry_read(
    client: GraphClient, account: IntegrationAccount, token: AccessToken, *, store: bool
):
    """Read the secret's expiry when the app may (Application.Read.All); store it on
    the account when `store`. None when it cannot be read."""
    if EXPIRY_PERMISSION not in token.roles or not account.object_id.strip():
        return None
    try:
        expiry = _secret_expiry(client, account, app_credentials(account).client_secret)
    except GraphError as exc:
        logger.info("could not read the secret's expiry: %s", exc.message)
        return None
    if expiry is not None and store:
        IntegrationAccount.objects.filter(pk=account.pk).update(
            secret_expires_at=expiry,
            secret_expiry_source=IntegrationAccount.ExpirySource.GRAPH,
        )
    return expiry


def account_secret_expiry_read(account: IntegrationAccount) -> str:
    """Read the stored secret's expiry from Graph and store it (job after saving).

    Side effects: records token health, as a token is requested. Returns what
    happened, as a sentence for the job's row; never raises for a Graph or
    identity failure.
    """
    if account.missing_credentials():
        return "Not read: the account's credentials are incomplete."
    if not account.object_id.strip():
        return "Not read: the account has no Object ID."
    token = account_token_refresh(account)
    if token is None:
        return "Not read: no app token (see Token health on the account page)."
    if EXPIRY_PERMISSION not in token.roles:
        return f"Not read: the app lacks {EXPIRY_PERMISSION}; enter the expiry by hand."
    client, _tokens = app_graph_client(account)
    expiry = _expiry_read(client, account, token, store=True)
    if expiry is None:
        return "Not read: Graph did not say which secret is in use."
    return f"The secret expires {timezone.localtime(expiry):%Y-%m-%d %H:%M %Z}."


def connection_test_values_unreadable(*, test: ConnectionTest) -> ConnectionTest:
    """End a test whose sealed form values could not be opened in the worker."""
    return _finish(
        test,
        outcome=ConnectionTest.Outcome.FAILED,
        headline=TEST_BROKE,
        cause="values",
        detail=VALUES_UNREADABLE,
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

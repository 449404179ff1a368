"""Test mailbox: the background job that walks everything the mailbox will need.

Steps, each recorded on the MailboxTest row as passed, warning, failed or skipped:
a token (with the precise AADSTS cause when Microsoft refuses one), the mail
permissions in it (Mail.ReadWrite and Mail.Send), the inbox readable (a missing
mailbox and a user without an Exchange licence each named), a test message sent to
the mailbox itself and seen arriving (then deleted, so it never reaches the contact
center), and whether an application access policy keeps the app out of other
mailboxes. Never raises for a Microsoft refusal: the refusal is the result.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from graph import mail
from graph.errors import AuthError, GraphError, Unavailable
from graph.mail import MailAddress, MailboxProblem, mailbox_problem
from graph.permissions import admin_consent_url
from graph.tokens import AccessToken
from integrations.graphlink import graph_config
from integrations.jobs import JobContext
from mailboxes.graphlink import MailboxGraph, MailboxSignInError, mailbox_graph
from mailboxes.models import Mailbox, MailboxTest
from mailboxes.policy import access_policy_commands, rbac_commands

REQUIRED = ("Mail.ReadWrite", "Mail.Send")
STEP_NAMES = {
    "token": "Token",
    "permissions": "Mail.ReadWrite and Mail.Send",
    "inbox": "Inbox readable",
    "round_trip": "Test message sent and received",
    "policy": "Application access policy",
}
TOKEN_FAILED = "Error: Failed to request a token"


@dataclass
class Step:
    key: str
    status: str
    detail: str
    commands: list[str] = field(default_factory=list)
    alternative: list[str] = field(default_factory=list)

    def row(self) -> dict:
        return {
            "key": self.key,
            "name": STEP_NAMES[self.key],
            "status": self.status,
            "detail": self.detail,
            "commands": self.commands,
            "alternative": self.alternative,
        }


def problem_sentence(problem: MailboxProblem | None, address: str, error: GraphError) -> str:
    """What a refusal to open ``address`` means, and what to do about it."""
    if problem is MailboxProblem.NO_SUCH_USER:
        return (
            f"Exchange Online knows no mailbox {address} (ErrorInvalidUser). Check the address, "
            "or create the mailbox (a shared mailbox needs no licence) in the Microsoft 365 "
            "admin center."
        )
    if problem is MailboxProblem.NO_MAILBOX:
        return (
            f"{address} exists but has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI): "
            "the user has no licence that includes Exchange Online, or the mailbox is inactive, "
            "soft-deleted or on-premises. Assign an Exchange Online licence, or use a shared "
            "mailbox."
        )
    if problem is MailboxProblem.POLICY_DENIED:
        return (
            f"An application access policy keeps this app out of {address} (ErrorAccessDenied, "
            "[RAOP]). Add the mailbox to the policy's mail-enabled security group."
        )
    if problem is MailboxProblem.ACCESS_DENIED:
        return (
            f"Exchange refused to open {address} (ErrorAccessDenied): the token lacks a mail "
            "permission. Grant Mail.ReadWrite and Mail.Send, with admin consent."
        )
    return f"Microsoft Graph refused: {error}"


def _token(graph: MailboxGraph) -> AccessToken:
    return graph.client.tokens.acquire(force_refresh=True)  # type: ignore[call-arg]


def _step_token(mailbox: Mailbox) -> tuple[Step, MailboxGraph | None, AccessToken | None]:
    try:
        graph = mailbox_graph(mailbox)
        token = _token(graph)
    except MailboxSignInError as exc:
        return Step("token", "failed", str(exc)), None, None
    except AuthError as exc:
        return Step("token", "failed", exc.sentence), None, None
    except Unavailable as exc:
        return (
            Step("token", "failed", f"The identity platform could not be reached: {exc.message}"),
            None,
            None,
        )
    graph.save()
    until = timezone.localtime(token.expires_at)
    return Step("token", "passed", f"Token acquired, valid until {until:%H:%M:%S}."), graph, token


def _step_permissions(mailbox: Mailbox, graph: MailboxGraph, token: AccessToken) -> Step:
    delegated = mailbox.access_type == Mailbox.AccessType.DELEGATED
    granted = set(token.scopes if delegated else token.roles)
    missing = [name for name in REQUIRED if name not in granted]
    kind = "delegated" if delegated else "application"
    if not missing:
        return Step(
            "permissions",
            "passed",
            f"The token holds the {kind} permissions {' and '.join(REQUIRED)}.",
        )
    detail = (
        f"The token lacks the {kind} permission {' and '.join(missing)}. Add it to the app "
        "registration (API permissions → Microsoft Graph → "
        f"{'Delegated' if delegated else 'Application'} permissions) and grant admin consent"
    )
    if not delegated:
        tenant = mailbox.tenant.strip() if mailbox.uses_separate_app else ""
        if tenant:
            detail += (
                f": {admin_consent_url(graph_config().authority_host, tenant, graph.client_id)}"
            )
    return Step("permissions", "failed", detail + ".")


def _step_inbox(mailbox: Mailbox, graph: MailboxGraph) -> Step:
    try:
        messages = mail.folder_messages(graph.client, graph.mailbox_path, "inbox", top=1)
    except GraphError as exc:
        return Step("inbox", "failed", problem_sentence(mailbox_problem(exc), mailbox.address, exc))
    newest = (
        f" The newest message arrived {timezone.localtime(messages[0].received):%Y-%m-%d %H:%M}."
        if messages and messages[0].received
        else ""
    )
    return Step("inbox", "passed", f"Read the inbox of {mailbox.address}.{newest}")


def _step_round_trip(mailbox: Mailbox, graph: MailboxGraph) -> Step:
    subject = f"ccbridge test message {uuid.uuid4().hex[:12]}"
    try:
        mail.send_mail(
            graph.client,
            graph.mailbox_path,
            subject=subject,
            body="Sent by ccbridge's Test mailbox to check that this mailbox can send and "
            "receive. It is deleted once seen.",
            to=[MailAddress(mailbox.address, mailbox.display_name)],
            save_to_sent_items=False,
        )
    except GraphError as exc:
        return Step(
            "round_trip",
            "failed",
            "Sending failed: " + problem_sentence(mailbox_problem(exc), mailbox.address, exc),
        )
    deadline = time.monotonic() + settings.MAILBOX_TEST_ARRIVAL_SECONDS
    started = time.monotonic()
    while True:
        try:
            found = [
                m
                for m in mail.folder_messages(graph.client, graph.mailbox_path, "inbox", top=25)
                if m.subject == subject
            ]
        except GraphError as exc:
            return Step(
                "round_trip", "failed", f"Sent, but the inbox could not be read again: {exc}"
            )
        if found:
            for message in found:
                # Should deleting fail, the message stays: harmless, and it says what it is.
                with contextlib.suppress(GraphError):
                    mail.delete_message(graph.client, graph.mailbox_path, message.id)
            took = time.monotonic() - started
            return Step(
                "round_trip",
                "passed",
                f"Sent a test message to {mailbox.address}; it arrived after {took:.1f} s "
                "and was deleted.",
            )
        if time.monotonic() >= deadline:
            return Step(
                "round_trip",
                "warning",
                f"Sent a test message to {mailbox.address}, but it had not arrived after "
                f"{settings.MAILBOX_TEST_ARRIVAL_SECONDS} s. Exchange may be slow; look for "
                f'"{subject}" in the inbox, and check mail flow rules.',
            )
        time.sleep(1.0)


def _step_policy(mailbox: Mailbox, graph: MailboxGraph) -> Step:
    if mailbox.access_type == Mailbox.AccessType.DELEGATED:
        return Step(
            "policy",
            "skipped",
            "Applies to access without a user only: a signed-in user's token opens only the "
            "mailboxes that user may open.",
        )
    probe = mailbox.policy_probe_address.strip()
    if not probe:
        try:
            probe = mail.other_mailbox_address(graph.client, mailbox.address)
        except GraphError as exc:
            return Step(
                "policy",
                "warning",
                "Not checked: the directory could not be read to pick another mailbox "
                f"({exc.message}). Name a mailbox in Policy check mailbox, then test again.",
            )
        if not probe:
            return Step(
                "policy",
                "warning",
                "Not checked: the directory has no other user. Name a mailbox in Policy "
                "check mailbox.",
            )
    addresses = sorted(
        Mailbox.objects.filter(access_type=Mailbox.AccessType.APP).values_list("address", flat=True)
    ) or [mailbox.address]
    try:
        mail.folder_messages(graph.client, probe, "inbox", top=1)
    except GraphError as exc:
        problem = mailbox_problem(exc)
        if problem is MailboxProblem.POLICY_DENIED:
            return Step(
                "policy",
                "passed",
                f"Restricted: Exchange refused this app the mailbox {probe} (403 "
                "ErrorAccessDenied), so an application access policy limits it to the "
                "mailboxes it was configured for.",
            )
        return Step(
            "policy",
            "warning",
            f"Not checked: {probe} could not be opened for another reason. "
            f"{problem_sentence(problem, probe, exc)} Name another mailbox in Policy check "
            "mailbox, then test again.",
        )
    return Step(
        "policy",
        "warning",
        f"Not restricted: this app could read the mailbox {probe}, which ccbridge was not "
        "configured for. With Mail.ReadWrite an app reads every mailbox of the tenant unless "
        "Exchange limits it. Run in Exchange Online PowerShell (Connect-ExchangeOnline):",
        commands=access_policy_commands(
            client_id=graph.client_id, addresses=addresses, other=probe
        ),
        alternative=rbac_commands(client_id=graph.client_id, addresses=addresses),
    )


def _record_token(mailbox: Mailbox, token_step: Step, token: AccessToken | None) -> None:
    fields: dict = {"token_state": Mailbox.TokenState.OK if token else Mailbox.TokenState.FAILED}
    if token is not None:
        fields["token_expires_at"] = token.expires_at
    else:
        fields.update(last_error=token_step.detail[:2000], last_error_at=timezone.now())
    Mailbox.objects.filter(pk=mailbox.pk).update(**fields)


def mailbox_test_run(*, test: MailboxTest, ctx: JobContext | None = None) -> MailboxTest:
    """Run every step of Test mailbox for ``test.mailbox`` and store the result on
    ``test``. Side effects: HTTP to Microsoft; a test message sent and deleted; the
    mailbox's token health recorded."""
    mailbox = test.mailbox
    advance = ctx.advance if ctx else (lambda done=1: None)
    if ctx:
        ctx.set_total(len(STEP_NAMES))
    token_step, graph, token = _step_token(mailbox)
    steps = [token_step]
    _record_token(mailbox, token_step, token)
    advance()
    if graph is not None and token is not None:
        try:
            for run in (_step_permissions, _step_inbox, _step_round_trip, _step_policy):
                step = (
                    run(mailbox, graph, token) if run is _step_permissions else run(mailbox, graph)
                )
                steps.append(step)
                advance()
                if step.status == "failed":
                    break
        finally:
            graph.save()
    done = {s.key for s in steps}
    steps += [
        Step(key, "skipped", "Not run: an earlier step failed.")
        for key in STEP_NAMES
        if key not in done
    ]
    return _finish(test, steps)


def _finish(test: MailboxTest, steps: list[Step]) -> MailboxTest:
    failed = next((s for s in steps if s.status == "failed"), None)
    if failed is not None:
        test.outcome = MailboxTest.Outcome.FAILED
        test.headline = (
            TOKEN_FAILED if failed.key == "token" else f"Error: {STEP_NAMES[failed.key]}"
        )
    elif any(s.status == "warning" for s in steps):
        test.outcome, test.headline = (
            MailboxTest.Outcome.WARNING,
            "The mailbox works, with warnings",
        )
    else:
        test.outcome, test.headline = MailboxTest.Outcome.PASSED, "The mailbox works"
    test.steps = [s.row() for s in steps]
    test.finished_at = timezone.now()
    test.save()
    return test


def mailbox_test_abort(*, test: MailboxTest, error: Exception) -> MailboxTest:
    """End a test that could not finish for a reason of ours (the page stops polling)."""
    test.outcome = MailboxTest.Outcome.FAILED
    test.headline = "Error: The test could not finish"
    test.steps = [
        *test.steps,
        {
            "key": "internal",
            "name": "Test",
            "status": "failed",
            "detail": f"{type(error).__name__}: {error}",
            "commands": [],
            "alternative": [],
        },
    ]
    test.finished_at = timezone.now()
    test.save()
    return test

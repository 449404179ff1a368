"""Console views of expert chat: the Chats screen (conferences and each one's transcript)
and marking the chat service account (System users page).

Both screens poll themselves while a conference they show is live; once none is, the
partial comes back without its trigger and with htmx's 286 (stop polling), so an idle
page costs nothing.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from chat.media import media_token
from chat.models import Conference, ConferenceMessage
from chat.service_account import chat_service_account_clear, chat_service_account_set
from chat.transcript import (
    ConferenceFilters,
    conference_duration_seconds,
    conference_transcript,
    conferences_list,
)
from presence.sync_models import SystemUser

CONFERENCES = "chat/conferences.html"
CONFERENCE = "chat/conference.html"
TABLE_ID = "chats-table"
LIVE_ID = "conference-live"
PAGE_SIZE = 25
POLL_SECONDS = 3
LIVE, PAST = "live", "past"
MAX_WORDS = 8


class ConferenceFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    state = forms.ChoiceField(
        choices=[("", "Any state"), *Conference.State.choices], required=False, label="State"
    )
    live = forms.ChoiceField(
        choices=[("", "Live and past"), (LIVE, "Live only"), (PAST, "Past only")],
        required=False,
        label="Show",
    )


def _filters(form: ConferenceFilterForm) -> ConferenceFilters:
    if not form.is_valid():
        return ConferenceFilters()
    data = form.cleaned_data
    live = {LIVE: True, PAST: False}.get(data["live"])
    # NUL: PostgreSQL cannot compare it, and no conference holds one. Every word is one
    # more condition, so a pasted paragraph is cut to its first few.
    words = data["q"].replace("\x00", "").split()[:MAX_WORDS]
    return ConferenceFilters(state=data["state"], q=" ".join(words), live=live)


def duration_text(seconds: int) -> str:
    """ "42 s", "2 min 05 s", "1 h 02 min"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _partial(request: HttpRequest, template: str, context: dict, *, live: bool) -> HttpResponse:
    """A polled partial: 200 while something shown is live, else 286 so htmx stops."""
    if live:
        return render(request, template, context)
    return HttpResponseStopPolling(render_to_string(template, context, request=request))


@require_GET
@permission_required("chat.view_conference", raise_exception=True)
def conferences(request: HttpRequest) -> HttpResponse:
    """Live and past conferences, filtered and searched, newest first."""
    form = ConferenceFilterForm(request.GET)
    page = Paginator(conferences_list(_filters(form)), PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {"conference": c, "duration": duration_text(conference_duration_seconds(c, now=now))}
        for c in page
    ]
    live = any(row["conference"].live for row in rows)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "live": live,
        "poll_seconds": POLL_SECONDS,
        "now": now,
    }
    if request.htmx and request.htmx.target == TABLE_ID:
        return _partial(request, f"{CONFERENCES}#table", context, live=live)
    return render(request, CONFERENCES, context)


def _who(conference: Conference, line: ConferenceMessage) -> str:
    """Who said a line: the expert, the customer or agent it was relayed for, or ccbridge
    (the chat service account's own words and the notes it keeps)."""
    if line.direction == ConferenceMessage.Direction.FROM_EXPERT:
        return f"{line.author or conference.expert_name} (expert)"
    if line.direction == ConferenceMessage.Direction.SYSTEM or not line.author:
        return "ccbridge"
    role, _, name = line.author.partition(":")
    if name:
        return f"{name} ({role})"
    return f"{line.author} (customer)"  # the context sent with the invitation


def _lines(conference: Conference) -> list[dict]:
    public_id = str(conference.public_id)
    return [
        {
            "line": line,
            "who": _who(conference, line),
            "images": [
                reverse("chat:media", args=[media_token(public_id, url)])
                for url in line.hosted_content_urls
            ],
            # A line for Teams without a Teams message id is still on its way there.
            "pending": line.direction == ConferenceMessage.Direction.TO_EXPERT
            and not line.graph_message_id,
        }
        for line in conference_transcript(conference)
    ]


def _timeline(conference: Conference) -> list[tuple[str, object]]:
    """The conference's moments that happened, in order."""
    moments = [("Invited", conference.invited_at)]
    if conference.invitation_sent_at:
        moments.append(("Invitation reached Teams", conference.invitation_sent_at))
    if conference.answered_at:
        answer = "Declined" if conference.state == Conference.State.DECLINED else "Joined"
        moments.append((answer, conference.answered_at))
    if conference.ended_at:
        moments.append((conference.get_state_display(), conference.ended_at))
    elif conference.state == Conference.State.INVITING:
        moments.append(("Invitation lapses", conference.invitation_expires_at))
    return moments


@require_GET
@permission_required("chat.view_conference", raise_exception=True)
def conference(request: HttpRequest, pk: int) -> HttpResponse:
    """One conference: its facts, timeline and transcript in order."""
    found = get_object_or_404(conferences_list(), pk=pk)
    context = {
        "conference": found,
        "duration": duration_text(conference_duration_seconds(found)),
        "timeline": _timeline(found),
        "lines": _lines(found),
        "poll_seconds": POLL_SECONDS,
    }
    if request.htmx and request.htmx.target == LIVE_ID:
        return _partial(request, f"{CONFERENCE}#live", context, live=found.live)
    return render(request, CONFERENCE, context)


# --- the chat service account (a section of the System users page) ----------------------


@require_POST
@permission_required("chat.change_chatserviceaccount", raise_exception=True)
def service_account(request: HttpRequest) -> HttpResponse:
    """Mark a system user as the chat service account (and check its chat scopes), or
    unmark it (``system_user`` empty)."""
    raw = request.POST.get("system_user", "").strip()
    if not raw:
        chat_service_account_clear(actor=request.user)
        messages.success(request, "No system user speaks in Teams chats now.")
        return redirect("sync:system_users")
    user = get_object_or_404(SystemUser, pk=raw) if raw.isdigit() else None
    if user is None:
        messages.error(request, "Choose a system user.")
        return redirect("sync:system_users")
    account = chat_service_account_set(actor=request.user, system_user=user)
    if account.ready:
        messages.success(
            request,
            f"{user.username} is the chat service account; its token holds the chat scopes.",
        )
    else:
        messages.error(
            request,
            f"{user.username} is marked for chat but cannot chat yet: {account.status_detail}",
        )
    return redirect("sync:system_users")

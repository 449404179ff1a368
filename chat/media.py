"""Images an expert pastes, served to the contact center through short-lived signed links.

A pasted image lives behind Graph (``…/hostedContents/{id}/$value``) and needs a
Graph token (docs/graph.md, "Chat"), so the contact center gets a link to ccbridge
instead: ``/chat/media/<token>``, where the token is the Graph URL signed with the
console's secret (django.core.signing, its own salt). The signature is the
credential, so the view needs no sign-in; a token older than
CHAT_MEDIA_LINK_MAX_AGE_SECONDS is refused with 410, an altered one with 404.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from graph.chat import hosted_content
from graph.errors import GraphError, NotFound
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.services import account_get

logger = logging.getLogger(__name__)

SALT = "ccbridge.chat.media"


def media_token(conference_public_id: str, graph_url: str) -> str:
    """The signed token for one hosted content of a conference."""
    return signing.dumps({"c": str(conference_public_id), "u": graph_url}, salt=SALT, compress=True)


def media_link(conference_public_id: str, graph_url: str) -> str:
    """The absolute link the contact center opens (on CCBRIDGE_PUBLIC_URL)."""
    path = reverse("chat:media", args=[media_token(conference_public_id, graph_url)])
    return settings.CCBRIDGE_PUBLIC_URL.rstrip("/") + path


def media_url_read(token: str) -> str:
    """The Graph URL a token names. Raises signing.SignatureExpired (too old) or
    signing.BadSignature (altered or not ours)."""
    value = signing.loads(token, salt=SALT, max_age=settings.CHAT_MEDIA_LINK_MAX_AGE_SECONDS)
    if not isinstance(value, dict) or not isinstance(value.get("u"), str):
        raise signing.BadSignature("not a media token")
    return value["u"]


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


@login_not_required
@require_GET
def media(request: HttpRequest, token: str) -> HttpResponse:
    """The image behind a signed link, fetched from Graph with the app's token."""
    try:
        url = media_url_read(token)
    except signing.SignatureExpired:
        return _plain("This image link has expired; ask for the message again.", 410)
    except signing.BadSignature:
        return _plain("This image link is not valid.", 404)
    account = account_get()
    if account is None:
        return _plain("No Teams integration account is set up.", 503)
    client, tokens = app_graph_client(account)
    try:
        content, content_type = hosted_content(client, url)
    except NotFound:
        return _plain("The image is no longer in Teams.", 404)
    except (GraphError, ValueError) as exc:
        logger.warning("could not read a chat image from Graph: %s", exc)
        return _plain("The image could not be read from Microsoft Graph; retry later.", 502)
    finally:
        token_cache_save(account, tokens)
    # Only images are shown inline: anything else from Teams must never run as a page
    # of this console's origin.
    image = (content_type or "").lower().startswith("image/") and "svg" not in content_type.lower()
    response = HttpResponse(
        content, content_type=content_type if image else "application/octet-stream"
    )
    response["Cache-Control"] = "private, max-age=60"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline" if image else "attachment"
    return response

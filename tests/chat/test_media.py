"""Signed image links: the contact center opens an expert's pasted image through ccbridge
while the link is fresh; an expired or altered link is refused with a plain message."""

import time

from django.core import signing
from django.test import Client

from chat.media import media_link, media_token, media_url_read

GRAPH_URL = "https://graph.microsoft.com/v1.0/chats/c/messages/m/hostedContents/h/$value"


def path_of(link: str) -> str:
    return link[link.index("/chat/media/") :]


def test_a_token_names_the_graph_url_it_was_made_for():
    assert media_url_read(media_token("conf-1", GRAPH_URL)) == GRAPH_URL


def test_an_expired_link_is_refused_with_410(db, settings, monkeypatch):
    link = media_link("conf-1", GRAPH_URL)
    settings.CHAT_MEDIA_LINK_MAX_AGE_SECONDS = 600
    later = time.time() + 601
    monkeypatch.setattr(signing.time, "time", lambda: later)
    response = Client().get(path_of(link))
    assert response.status_code == 410
    assert b"expired" in response.content


def test_an_altered_link_is_refused_with_404(db):
    path = path_of(media_link("conf-1", GRAPH_URL))
    altered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    response = Client().get(altered)
    assert response.status_code == 404
    assert response.content == b"This image link is not valid."
    # Another salt (any other signed value of the console) is not a media link either.
    other = signing.dumps({"u": GRAPH_URL}, salt="something-else")
    assert Client().get(f"/chat/media/{other}").status_code == 404

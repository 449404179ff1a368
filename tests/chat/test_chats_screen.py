"""The console's Chats screen: conferences with state, people, times and counts, their
filters and search, the transcript page, who may open them, and polling that stops once
nothing shown is live."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chat.media import media_url_read
from chat.models import Conference, ConferenceMessage
from integrations.apikeys import api_key_create
from tests.chat.factories import ConferenceFactory, lines_add
from tests.factories import UserFactory

LIST = reverse("chat:conferences")
HTMX_TABLE = {"HX-Request": "true", "HX-Target": "chats-table"}
HTMX_LIVE = {"HX-Request": "true", "HX-Target": "conference-live"}
STOP_POLLING = 286
D = ConferenceMessage.Direction
INVITATION = "You are invited to customer chat session, would you like to accept (YES/NO)?"
IMAGE = "https://graph.microsoft.com/v1.0/chats/19:c/messages/1/hostedContents/h1/$value"


def _detail(conference) -> str:
    return reverse("chat:conference", args=[conference.pk])


def _rows(response) -> list[str]:
    """The customers of the listed conferences, top to bottom."""
    html = response.content.decode()
    return re.findall(r'<a href="/chats/\d+/">([^<]+)</a>', html)


def _polls(response) -> bool:
    return 'hx-trigger="every' in response.content.decode()


@pytest.fixture
def desk(db):
    """Three conferences: one live, one the expert left, one that failed."""
    now = timezone.now()
    live = ConferenceFactory(
        customer_name="Ann Customer", expert_name="Avery Quinn", agent__name="Bo Agent",
        customer_chat_id="cc-ann", state=Conference.State.JOINED,
        answered_at=now - timedelta(seconds=30),
    )  # fmt: skip
    lines_add(
        live,
        (D.TO_EXPERT, "Ann Customer", "Ann Customer: Is line 12 right?"),
        (D.TO_EXPERT, "", INVITATION),
        (D.FROM_EXPERT, "Avery Quinn", "YES"),
        (D.SYSTEM, "", "Avery Quinn joined the session"),
        (D.TO_EXPERT, "customer:Ann Customer", "Ann Customer: Thanks for joining"),
        (D.TO_EXPERT, "agent:Bo Agent", "Bo Agent: She means the tax form"),
        (D.FROM_EXPERT, "Avery Quinn", "Line 12 is right"),
    )  # fmt: skip
    left = ConferenceFactory(
        customer_name="Cy Customer", expert_name="Dana Expert", agent__name="Eve Agent",
        customer_chat_id="cc-cy", state=Conference.State.LEFT,
        answered_at=now - timedelta(minutes=5), ended_at=now - timedelta(minutes=1),
    )  # fmt: skip
    Conference.objects.filter(pk=left.pk).update(invited_at=now - timedelta(minutes=6))
    failed = ConferenceFactory(
        customer_name="Flo Customer", expert_name="Gil Expert", customer_chat_id="cc-flo",
        state=Conference.State.FAILED, ended_at=now,
        error="Graph sends chat messages only for a signed-in user: grant ChatMessage.Send.",
    )  # fmt: skip
    return {"live": live, "left": left, "failed": failed}


def test_supervisors_see_each_conference_with_its_state_people_and_counts(supervisor_client, desk):
    response = supervisor_client.get(LIST)
    assert response.status_code == 200
    assert _rows(response) == ["Flo Customer", "Ann Customer", "Cy Customer"]  # newest first
    html = response.content.decode()
    live = html.split(f'data-conference="{desk["live"].public_id}"')[1].split("</tr>")[0]
    assert "Joined" in live and "Avery Quinn" in live and "Bo Agent" in live
    assert "cc-ann" in live
    # Context and two relayed lines went to the expert; the invitation is ccbridge's own.
    assert "3 to the expert" in live and "2 from the expert" in live
    left = html.split(f'data-conference="{desk["left"].public_id}"')[1].split("</tr>")[0]
    assert "Expert left" in left and "5 min 00 s" in left


def test_a_failed_conference_shows_its_error_in_the_list_and_on_its_page(supervisor_client, desk):
    error = "Graph sends chat messages only for a signed-in user: grant ChatMessage.Send."
    listed = supervisor_client.get(LIST).content.decode()
    row = listed.split(f'data-conference="{desk["failed"].public_id}"')[1].split("</tr>")[0]
    assert "Failed" in row and error in row
    page = supervisor_client.get(_detail(desk["failed"])).content.decode()
    assert error in page and 'role="alert"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "left"}, ["Cy Customer"]),
        ({"live": "live"}, ["Ann Customer"]),
        ({"live": "past"}, ["Flo Customer", "Cy Customer"]),
        ({"q": "ann"}, ["Ann Customer"]),  # customer
        ({"q": "dana"}, ["Cy Customer"]),  # expert
        ({"q": "eve agent"}, ["Cy Customer"]),  # agent's name, every word
        ({"q": "cc-flo"}, ["Flo Customer"]),  # the contact center's chat id
        ({"q": "nobody"}, []),
        ({"state": "joined", "live": "past"}, []),
    ],
)
def test_filters_and_search(supervisor_client, desk, query, expected):
    response = supervisor_client.get(LIST, query)
    assert _rows(response) == expected
    if not expected:
        assert "No conferences match these filters" in response.content.decode()


def test_search_finds_the_agent_by_its_contact_center_id(supervisor_client, desk):
    agent_id = desk["left"].agent_external_id
    assert _rows(supervisor_client.get(LIST, {"q": agent_id})) == ["Cy Customer"]


def test_the_list_pages_with_the_console_pager_keeping_the_filters(supervisor_client, db):
    for n in range(30):
        ConferenceFactory(customer_name=f"Pat {n:02d}", state=Conference.State.ENDED)
    first = supervisor_client.get(LIST, {"q": "pat"})
    assert len(_rows(first)) == 25
    assert 'href="?q=pat&amp;page=2"' in first.content.decode()
    second = supervisor_client.get(LIST, {"q": "pat", "page": "2"})
    assert _rows(second) == [f"Pat {n:02d}" for n in range(4, -1, -1)]


def test_the_list_polls_while_a_conference_is_live_and_stops_when_none_is(supervisor_client, desk):
    assert _polls(supervisor_client.get(LIST))
    polled = supervisor_client.get(LIST, headers=HTMX_TABLE)
    assert polled.status_code == 200 and _polls(polled)
    assert "<html" not in polled.content.decode()

    Conference.objects.filter(pk=desk["live"].pk).update(
        state=Conference.State.ENDED, ended_at=timezone.now()
    )
    last = supervisor_client.get(LIST, headers=HTMX_TABLE)
    assert last.status_code == STOP_POLLING
    assert not _polls(last)
    assert "Ended" in last.content.decode()  # the final state is still shown
    # A page of past conferences never starts polling, and works without htmx.
    assert supervisor_client.get(LIST).status_code == 200
    assert not _polls(supervisor_client.get(LIST))


def test_the_list_polls_only_for_what_it_shows(supervisor_client, desk):
    past_only = supervisor_client.get(LIST, {"live": "past"}, headers=HTMX_TABLE)
    assert past_only.status_code == STOP_POLLING and not _polls(past_only)


def test_the_conference_page_shows_the_transcript_in_order_and_its_timeline(
    supervisor_client, desk
):
    conference = desk["live"]
    lines_add(conference, (D.FROM_EXPERT, "Avery Quinn", "See the picture"))
    ConferenceMessage.objects.filter(conference=conference, text="See the picture").update(
        hosted_content_urls=[IMAGE]
    )
    response = supervisor_client.get(_detail(conference))
    assert response.status_code == 200
    html = response.content.decode()
    said = re.findall(r'<span class="line-text">([^<]+)</span>', html)
    assert said == [
        "Ann Customer: Is line 12 right?",
        INVITATION,
        "YES",
        "Avery Quinn joined the session",
        "Ann Customer: Thanks for joining",
        "Bo Agent: She means the tax form",
        "Line 12 is right",
        "See the picture",
    ]
    assert "Bo Agent (agent)" in html and "Avery Quinn (expert)" in html
    [link] = re.findall(r'<a href="(/chat/media/[^"]+)"[^>]*>Image 1</a>', html)
    assert media_url_read(link.removeprefix("/chat/media/")) == IMAGE
    timeline = html.split('class="timeline"')[1].split("</ol>")[0]
    assert timeline.index("Invited") < timeline.index("Joined")


def test_the_conference_page_polls_while_live_and_stops_once_it_ended(supervisor_client, desk):
    conference = desk["live"]
    polled = supervisor_client.get(_detail(conference), headers=HTMX_LIVE)
    assert polled.status_code == 200 and _polls(polled)

    lines_add(conference, (D.FROM_EXPERT, "Avery Quinn", "BYE"))
    Conference.objects.filter(pk=conference.pk).update(
        state=Conference.State.LEFT, ended_at=timezone.now()
    )
    last = supervisor_client.get(_detail(conference), headers=HTMX_LIVE)
    assert last.status_code == STOP_POLLING and not _polls(last)
    assert "BYE" in last.content.decode() and "Expert left" in last.content.decode()
    assert not _polls(supervisor_client.get(_detail(desk["left"])))


def test_an_unknown_conference_is_404(supervisor_client, db):
    assert supervisor_client.get(reverse("chat:conference", args=[999999])).status_code == 404


def test_an_acd_api_key_or_a_user_without_the_role_is_refused(desk):
    _key, raw = api_key_create(actor=None, name="ACD", scopes=["chat:write"])
    with_key = Client(headers={"Authorization": f"Bearer {raw}"})
    for url in (LIST, _detail(desk["live"])):
        response = with_key.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    nobody = Client()
    nobody.force_login(UserFactory())
    assert nobody.get(LIST).status_code == 403
    assert nobody.get(_detail(desk["live"])).status_code == 403
    assert 'href="/chats/"' not in nobody.get(reverse("console:dashboard")).content.decode()


def test_the_navigation_shows_chats_to_supervisors_and_administrators(
    supervisor_client, administrator_client
):
    for client in (supervisor_client, administrator_client):
        assert 'href="/chats/"' in client.get(reverse("console:dashboard")).content.decode()

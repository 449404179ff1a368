"""Reading chat messages as Graph sends them: HTML bodies, system events, images."""

from graph.chat import ChatMessage, html_to_text


def test_a_teams_reply_is_compared_on_its_text():
    assert html_to_text("<p>YES</p>") == "YES"
    assert html_to_text("<p>&nbsp; yes&nbsp;</p>\n") == "yes"
    assert html_to_text("<div>Line one<br>Line&nbsp;two &amp; more</div>") == (
        "Line one\nLine two & more"
    )


def test_a_message_knows_who_typed_it_and_its_images():
    url = "https://graph.microsoft.com/v1.0/chats/19:a/messages/17/hostedContents/aWQ=/$value"
    message = ChatMessage.from_graph(
        {
            "id": "17",
            "chatId": "19:a",
            "createdDateTime": "2026-12-05T10:00:00.123Z",
            "messageType": "message",
            "from": {"user": {"id": "u1", "displayName": "Avery Quinn"}},
            "body": {
                "contentType": "html",
                "content": f'<p>Look</p><p><img src="{url}" alt="image"></p>',
            },
        }
    )
    assert (message.text, message.sender_name, message.is_from_person) == (
        "Look",
        "Avery Quinn",
        True,
    )
    assert message.hosted_content_urls == [url]


def test_a_system_event_is_not_a_person_typing():
    message = ChatMessage.from_graph(
        {
            "id": "1",
            "messageType": "systemEventMessage",
            "from": None,
            "body": {"contentType": "html", "content": "<systemEventMessage/>"},
        }
    )
    assert not message.is_from_person

"""What the agent desktop may show of an email's HTML body."""

from mailboxes.sanitize import sanitize_html


def test_scripts_handlers_images_and_bad_links_are_gone():
    dirty = (
        '<div onclick="steal()"><script>alert(1)</script><style>p{}</style>'
        '<img src="https://tracker.example/p.gif"><a href="javascript:alert(2)">x</a>'
        '<a href="https://contoso.example/help" target="_blank">help</a>'
        "<iframe src=x></iframe><p>5 &lt; 6 & <b>bold</p>"
    )
    assert sanitize_html(dirty) == (
        '<div><a>x</a><a href="https://contoso.example/help" rel="noopener noreferrer">help</a>'
        "<p>5 &lt; 6 &amp; <b>bold</b></p></div>"
    )


def test_text_is_escaped_and_every_tag_closed():
    assert (
        sanitize_html("<ul><li>a<li>&lt;script&gt;") == "<ul><li>a<li>&lt;script&gt;</li></li></ul>"
    )

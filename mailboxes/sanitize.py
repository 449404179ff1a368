"""An email body's HTML made safe to show in the agent desktop.

Built again from the parsed tokens, so only allow-listed tags and attributes
survive and every text and attribute value is escaped: no script, style, event
handler, form, frame or remote image (``src`` is dropped, which also stops
tracking pixels); links keep ``href`` only for http, https and mailto.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset(
    [
        "a",
        "b",
        "blockquote",
        "br",
        "code",
        "div",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    ]
)
VOID_TAGS = frozenset({"br", "hr"})
# Whose content is dropped with them, not kept as text.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "head", "title", "template", "noscript"})
LINK_SCHEMES = ("http://", "https://", "mailto:")


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping += 1
            return
        if self.skipping or tag not in ALLOWED_TAGS:
            return
        kept = ""
        if tag == "a":
            href = next((v or "" for k, v in attrs if k == "href"), "").strip()
            if href.lower().startswith(LINK_SCHEMES):
                kept = f' href="{escape(href, quote=True)}" rel="noopener noreferrer"'
        self.out.append(f"<{tag}{kept}>")
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping = max(0, self.skipping - 1)
            return
        if self.skipping or tag not in self.open:
            return
        while self.open:
            inner = self.open.pop()
            self.out.append(f"</{inner}>")
            if inner == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(escape(data, quote=False))


def sanitize_html(markup: str) -> str:
    """``markup`` with only safe tags and attributes, every tag closed. Pure."""
    parser = _Sanitizer()
    parser.feed(markup)
    parser.close()
    parser.out.extend(f"</{tag}>" for tag in reversed(parser.open))
    return "".join(parser.out)

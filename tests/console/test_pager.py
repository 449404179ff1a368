"""The pager partials: Previous/Next keep the page's other filters and lead to a page."""

import pytest
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory


@pytest.mark.parametrize("template", ["accounts/_pager.html", "console/_pager.html"])
def test_next_and_previous_links_carry_one_query_string(template):
    request = RequestFactory().get("/mapping/", {"q": "ana", "page": "2"})
    page = Paginator(range(150), 50).page(2)

    html = render_to_string(template, {"page": page, "target": "#rows"}, request=request)

    assert 'href="?q=ana&amp;page=1"' in html
    assert 'href="?q=ana&amp;page=3"' in html
    assert "??" not in html

"""The product's WSGI application plus the floor the webhook is compared with.

``POST /bench/floor`` is a bare view answering 202: it goes through the same
gunicorn, the same middleware and the same URL resolution as the Graph
webhook, and reads the body, but checks and queues nothing. Served only by
the bench's gunicorn (bench/stack.py), never by the product.
"""

from config.wsgi import application


def _mount_floor() -> None:
    # Imported here: Django's apps are only ready once config.wsgi has set them up.
    from django.contrib.auth.decorators import login_not_required
    from django.http import HttpRequest, HttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from django.views.decorators.http import require_POST

    from bench.stack import FLOOR_PATH
    from config import urls

    @csrf_exempt
    @login_not_required
    @require_POST
    def floor(request: HttpRequest) -> HttpResponse:
        """Read the body and answer 202, as the webhook does when all went well."""
        request.read()
        return HttpResponse(status=202)

    # Before the first request: the URL resolver is built (and cached) on first use.
    urls.urlpatterns.append(path(FLOOR_PATH, floor, name="bench_floor"))


_mount_floor()

__all__ = ["application"]

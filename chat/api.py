"""The contact-center API for the expert directory (mounted in config/api.py)."""

from django.http import HttpRequest
from ninja import Query, Router

from chat.directory import DirectoryPage, directory_page
from chat.schemas import DirectoryFilters, DirectoryPageOut
from integrations.apikeys import api_key_auth
from integrations.models import ApiKey

router = Router()

DIRECTORY_READ = api_key_auth(ApiKey.Scope.DIRECTORY_READ)


def _page_out(page: DirectoryPage) -> dict:
    experts = []
    for expert in page.experts:
        user, reading = expert.user, expert.presence
        experts.append(
            {
                "id": user.graph_id,
                "display_name": user.display_name,
                "mail": user.mail,
                "user_principal_name": user.user_principal_name,
                "job_title": user.job_title,
                "department": user.department,
                "presence": None
                if reading is None
                else {
                    "availability": reading.availability,
                    "activity": reading.activity,
                    "as_of": reading.read_at,
                    "stale": reading.stale,
                },
                "phones": [{"type": kind, "number": number} for kind, number in expert.phones],
            }
        )
    return {
        "count": page.count,
        "page": page.page,
        "page_size": page.page_size,
        "pages": page.pages,
        "presence_error": page.presence_error,
        "experts": experts,
    }


@router.get(
    "/directory",
    auth=DIRECTORY_READ,
    response=DirectoryPageOut,
    tags=["Expert directory"],
    summary="Find Teams experts, with presence and phone numbers",
)
def directory_search(request: HttpRequest, filters: Query[DirectoryFilters]):
    """Current Teams users matching `q`, ordered by name, a page at a time. Presence is
    read from Microsoft Graph when the stored reading is older than 30 seconds; phone
    numbers follow the account's Directory options (only the shown types, in order)."""
    page = directory_page(q=filters.q, page=filters.page, page_size=filters.page_size)
    return _page_out(page)

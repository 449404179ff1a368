"""The agents CSV import page: upload → preview with per-row errors → import, all or nothing."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.csvimport import csv_preview
from accounts.forms import AgentsCsvForm, AgentsImportForm
from accounts.import_uploads import (
    NOT_AVAILABLE,
    UploadUnavailable,
    agent_import_upload_create,
    agent_import_upload_import,
)
from accounts.services import MappingError

TEMPLATE = "accounts/import.html"


@require_http_methods(["GET", "POST"])
@permission_required("accounts.import_agents", raise_exception=True)
def agents_import(request: HttpRequest) -> HttpResponse:
    """Preview an uploaded file and keep it on the server; the Import button names it."""
    if request.method == "POST" and request.POST.get("step") == "import":
        return _import(request)
    form = AgentsCsvForm(request.POST or None, request.FILES or None)
    context = {"form": form, "preview": None, "upload": None}
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        data = file.read()
        encoding = form.cleaned_data["encoding"]
        preview = csv_preview(data, encoding=encoding)
        context["preview"] = preview
        if preview.ok:  # only a file that can be imported is worth keeping
            context["upload"] = agent_import_upload_create(
                owner=request.user,
                original_name=file.name or "",
                data=data,
                encoding=encoding,
                row_count=len(preview.rows),
            )
    return render(request, TEMPLATE, context)


def _import(request: HttpRequest) -> HttpResponse:
    form = AgentsImportForm(request.POST)
    try:
        if not form.is_valid():
            raise UploadUnavailable(NOT_AVAILABLE, status=404)
        outcome = agent_import_upload_import(actor=request.user, token=form.cleaned_data["upload"])
    except (UploadUnavailable, MappingError) as exc:
        status = exc.status if isinstance(exc, UploadUnavailable) else 409
        context = {"form": AgentsCsvForm(), "preview": None, "refusal": str(exc)}
        return render(request, TEMPLATE, context, status=status)
    if outcome.result is None:  # a row no longer passes, e.g. its business unit is gone
        return render(request, TEMPLATE, {"form": AgentsCsvForm(), "preview": outcome.preview})
    result = outcome.result
    messages.success(
        request,
        f"Imported agents: {len(result.created)} created, {len(result.updated)} "
        f"updated, {len(result.unchanged)} unchanged.",
    )
    return redirect("accounts:mapping")

"""The Mailboxes screen (list and add) and the mailbox screen (health, edit, Test
mailbox, enable/disable, delete). Administrators change; Supervisors read."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Max
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mailboxes import services
from mailboxes.banners import mailbox_expiry_banner
from mailboxes.forms import MailboxForm
from mailboxes.models import MAILBOX_LIMIT, Mailbox, MailboxTest
from mailboxes.tasks import mailbox_test

LIST_TEMPLATE = "mailboxes/mailboxes.html"
DETAIL_TEMPLATE = "mailboxes/mailbox.html"
SECRET_FIELD = "client_secret"
LOG_ROWS = 50


def _fields(form: MailboxForm) -> dict:
    return {name: form.cleaned_data[name] for name in form.Meta.fields}


@require_http_methods(["GET", "POST"])
@permission_required("mailboxes.view_mailbox", raise_exception=True)
def mailbox_list(request: HttpRequest) -> HttpResponse:
    can_add = request.user.has_perm("mailboxes.add_mailbox")
    form = MailboxForm() if can_add else None
    status = 200
    if request.method == "POST":
        if not can_add:
            return render(request, "403.html", status=403)
        form = MailboxForm(request.POST)
        if form.is_valid():
            try:
                mailbox = services.mailbox_create(
                    actor=request.user,
                    fields=_fields(form),
                    client_secret=form.cleaned_data[SECRET_FIELD],
                )
            except services.MailboxLimitReached as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                messages.success(request, f"Added the mailbox {mailbox.address}. Test it next.")
                return redirect("mailboxes:detail", pk=mailbox.pk)
        else:
            status = 422 if not request.htmx else 200
    mailboxes = list(Mailbox.objects.select_related("business_unit"))
    latest = _latest_tests(mailboxes)
    rows = [
        {"mailbox": m, "test": latest.get(m.pk), "banner": mailbox_expiry_banner(m)}
        for m in mailboxes
    ]
    context = {"rows": rows, "form": form, "can_add": can_add, "limit": MAILBOX_LIMIT}
    return render(request, LIST_TEMPLATE, context, status=status)


def _latest_tests(mailboxes: list[Mailbox]) -> dict[int, MailboxTest]:
    """Each mailbox's newest test (at most 100 mailboxes: one query of their tests'
    newest ids, one of the rows)."""
    newest = (
        MailboxTest.objects.filter(mailbox__in=mailboxes)
        .values("mailbox_id")
        .annotate(newest=Max("id"))
        .values_list("newest", flat=True)
    )
    return {t.mailbox_id: t for t in MailboxTest.objects.filter(pk__in=list(newest))}


def _detail_context(request: HttpRequest, mailbox: Mailbox, form=None) -> dict:
    can_change = request.user.has_perm("mailboxes.change_mailbox")
    if form is None and can_change:
        form = MailboxForm(instance=mailbox)
    return {
        "mailbox": mailbox,
        "form": form,
        "can_change": can_change,
        "can_test": request.user.has_perm("mailboxes.test_mailbox"),
        "can_delete": request.user.has_perm("mailboxes.delete_mailbox"),
        "last_test": services.mailbox_test_settle(mailbox.tests.select_related("job").first()),
        "banner": mailbox_expiry_banner(mailbox),
        "log": mailbox.messages.all()[:LOG_ROWS],
        "counts": _counts_per_day(mailbox),
    }


def _counts_per_day(mailbox: Mailbox) -> list[dict]:
    """Messages in and out per day, the last 7 days with any."""
    rows = (
        mailbox.messages.annotate(day=TruncDate("created_at"))
        .values("day", "direction")
        .annotate(n=Count("id"))
        .order_by("-day")
    )
    days: dict = {}
    for row in rows:
        days.setdefault(row["day"], {"day": row["day"], "in": 0, "out": 0})[row["direction"]] = row[
            "n"
        ]
    return list(days.values())[:7]


@require_http_methods(["GET", "POST"])
@permission_required("mailboxes.view_mailbox", raise_exception=True)
def mailbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_object_or_404(Mailbox.objects.select_related("business_unit"), pk=pk)
    if request.method == "GET":
        return render(request, DETAIL_TEMPLATE, _detail_context(request, mailbox))
    if not request.user.has_perm("mailboxes.change_mailbox"):
        return render(request, "403.html", status=403)
    form = MailboxForm(request.POST, instance=mailbox)
    if form.is_valid():
        services.mailbox_update(
            actor=request.user,
            mailbox=mailbox,
            fields=_fields(form),
            client_secret=form.cleaned_data[SECRET_FIELD],
        )
        messages.success(request, f"Saved the mailbox {mailbox.address}.")
        return redirect("mailboxes:detail", pk=mailbox.pk)
    mailbox.refresh_from_db()
    return render(request, DETAIL_TEMPLATE, _detail_context(request, mailbox, form=form))


@require_POST
@permission_required("mailboxes.change_mailbox", raise_exception=True)
def mailbox_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_object_or_404(Mailbox, pk=pk)
    services.mailbox_set_enabled(actor=request.user, mailbox=mailbox, enabled=not mailbox.enabled)
    messages.success(
        request, f"{'Enabled' if mailbox.enabled else 'Disabled'} the mailbox {mailbox.address}."
    )
    return redirect("mailboxes:detail", pk=mailbox.pk)


@require_http_methods(["GET", "POST"])
@permission_required("mailboxes.delete_mailbox", raise_exception=True)
def mailbox_delete(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_object_or_404(Mailbox, pk=pk)
    if request.method == "POST":
        if request.POST.get("confirm_address", "").strip().lower() != mailbox.address:
            context = {
                "mailbox": mailbox,
                "error": "Type the mailbox's address exactly to confirm.",
            }
            return render(request, "mailboxes/mailbox_delete.html", context)
        services.mailbox_delete(actor=request.user, mailbox=mailbox)
        messages.success(request, f"Deleted the mailbox {mailbox.address}.")
        return redirect("mailboxes:list")
    return render(request, "mailboxes/mailbox_delete.html", {"mailbox": mailbox})


@require_POST
@permission_required("mailboxes.test_mailbox", raise_exception=True)
def mailbox_test_start(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_object_or_404(Mailbox, pk=pk)
    test = services.mailbox_test_start(actor=request.user, mailbox=mailbox, task=mailbox_test)
    if request.htmx:
        return render(
            request, f"{DETAIL_TEMPLATE}#test_result", {"last_test": test, "mailbox": mailbox}
        )
    return redirect("mailboxes:detail", pk=mailbox.pk)


@require_GET
@permission_required("mailboxes.view_mailbox", raise_exception=True)
def mailbox_test_result(request: HttpRequest, pk: int) -> HttpResponse:
    test = get_object_or_404(MailboxTest.objects.select_related("job", "mailbox"), pk=pk)
    services.mailbox_test_settle(test)
    return render(
        request, f"{DETAIL_TEMPLATE}#test_result", {"last_test": test, "mailbox": test.mailbox}
    )

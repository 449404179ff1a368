"""The Teams integration account page and its in-place actions."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations import services
from integrations.connection import connection_test_settle
from integrations.forms import (
    IntegrationAccountForm,
    PhoneTypesForm,
    phone_type_rows,
    phone_type_rows_as_posted,
)
from integrations.jobs import job_enqueue
from integrations.models import CHAT_MESSAGE_DEFAULTS, ConnectionTest
from integrations.tasks import account_test_connection, secret_expiry_read_enqueue
from integrations.unsaved import FORM_SECRET, TEST_VALUES, unsaved_open, unsaved_seal

TEMPLATE = "integrations/account.html"


def _context(request: HttpRequest, account, form=None, phone_errors=None) -> dict:
    can_edit = request.user.has_perm("integrations.change_integrationaccount")
    if form is None and can_edit:
        form = IntegrationAccountForm(instance=account)
    return {
        "account": account,
        "form": form,
        "can_edit": can_edit,
        "can_test": request.user.has_perm("integrations.test_integrationaccount"),
        "can_delete": request.user.has_perm("integrations.delete_integrationaccount"),
        "phone_rows": phone_type_rows(account.phone_types) if account else [],
        "phone_errors": phone_errors or [],
        "last_test": connection_test_settle(
            account.connection_tests.select_related("job").first() if account else None
        ),
    }


def _fields(form: IntegrationAccountForm) -> dict:
    return {name: form.cleaned_data[name] for name in form.Meta.fields}


# Fields whose change makes the stored expiry belong to another secret.
EXPIRY_SOURCES = {"tenant", "client_id", "object_id"}


@require_http_methods(["GET", "POST"])
@permission_required("integrations.view_integrationaccount", raise_exception=True)
def account(request: HttpRequest) -> HttpResponse:
    current = services.account_get()
    if request.method == "GET":
        return render(request, TEMPLATE, _context(request, current))
    if not request.user.has_perm("integrations.change_integrationaccount"):
        return render(request, "403.html", status=403)

    form = IntegrationAccountForm(request.POST, instance=current, user_id=request.user.pk)
    if form.is_valid():
        secret = form.cleaned_data["client_secret"]
        if current is None:
            try:
                with transaction.atomic():
                    created = services.account_create(
                        actor=request.user, fields=_fields(form), client_secret=secret
                    )
                    if created.object_id and created.secret_expires_at is None:
                        secret_expiry_read_enqueue(account=created, user=request.user)
            except services.AccountAlreadyExists:
                messages.error(
                    request, "Another administrator created the account a moment ago; here it is."
                )
                return redirect("integrations:account")
            messages.success(request, "Created the Teams integration account. Test it next.")
        else:
            typed_expiry = "secret_expires_at" in form.changed_data
            with transaction.atomic():
                services.account_update(
                    actor=request.user, account=current, fields=_fields(form), client_secret=secret
                )
                if (secret or EXPIRY_SOURCES & set(form.changed_data)) and not typed_expiry:
                    secret_expiry_read_enqueue(account=current, user=request.user)
            messages.success(request, "Saved the Teams integration account.")
        return redirect("integrations:account")
    return render(request, TEMPLATE, _context(request, current, form=form), status=200)


@require_POST
@permission_required("integrations.change_integrationaccount", raise_exception=True)
def phone_types(request: HttpRequest) -> HttpResponse:
    current = services.account_get()
    if current is None:
        raise Http404("No integration account")
    form = PhoneTypesForm(request.POST)
    errors = []
    if form.is_valid():
        current = services.account_set_phone_types(
            actor=request.user, account=current, phone_types=form.cleaned_data["phone_types"]
        )
    else:
        errors = form.non_field_errors() or ["Choose the phone types to show."]
    if not request.htmx:
        if errors:
            messages.error(request, " ".join(errors))
        return redirect("integrations:account")
    context = _context(request, current, phone_errors=errors)
    if errors:
        # Keep what the admin had on screen, so nothing they did is lost.
        context["phone_rows"] = phone_type_rows_as_posted(
            request.POST.getlist("order"), request.POST.getlist("shown"), current.phone_types
        )
    return render(request, f"{TEMPLATE}#phone_types", context)


@require_POST
@permission_required("integrations.change_integrationaccount", raise_exception=True)
def message_reset(request: HttpRequest, field: str) -> HttpResponse:
    current = services.account_get()
    if current is None or field not in CHAT_MESSAGE_DEFAULTS:
        raise Http404("No such message")
    current = services.account_reset_message(actor=request.user, account=current, field=field)
    if not request.htmx:
        messages.success(request, "Message reset to its default.")
        return redirect("integrations:account")
    form = IntegrationAccountForm(instance=current)
    context = {"field": form[field], "account": current, "can_edit": True}
    return render(request, "integrations/_account_form.html#message_field", context)


@require_POST
@permission_required("integrations.test_integrationaccount", raise_exception=True)
def test_connection(request: HttpRequest) -> HttpResponse:
    current = services.account_get()
    if current is None:
        raise Http404("No integration account")
    values = _form_values(request, current)
    with transaction.atomic():
        test = ConnectionTest.objects.create(account=current, unsaved=values is not None)
        sealed = (
            {"values": unsaved_seal(values=values, purpose=TEST_VALUES, user_id=request.user.pk)}
            if values is not None
            else {}
        )
        job = job_enqueue(
            kind="account.test",
            task=account_test_connection,
            user=request.user,
            test_id=test.pk,
            **sealed,
        )
        test.job = job
        test.save(update_fields=["job"])
    # Leaving the transaction sent the job; if the broker refused it, the job failed.
    job.refresh_from_db()
    connection_test_settle(test)
    if request.htmx:
        return _test_response(request, test)
    return redirect("integrations:account")


def _form_values(request: HttpRequest, current) -> dict[str, str] | None:
    """The credentials on the account form posted along with Test connection (htmx
    includes the form), for an administrator; None tests the stored account."""
    if "tenant" not in request.POST or not request.user.has_perm(
        "integrations.change_integrationaccount"
    ):
        return None
    kept = unsaved_open(
        request.POST.get("kept_secret", ""), purpose=FORM_SECRET, user_id=request.user.pk
    )
    return services.account_unsaved_credentials(
        account=current,
        posted={name: request.POST.get(name, "") for name in services.CREDENTIAL_FIELDS},
        kept_secret=(kept or {}).get("client_secret", ""),
    )


def _test_response(request: HttpRequest, test: ConnectionTest) -> HttpResponse:
    """The test's result; once it has finished, also the account's token health and
    the secret's expiry, swapped out of band so the page shows one current state."""
    account = services.account_get() or test.account
    context = {"last_test": test, "account": account}
    if request.user.has_perm("integrations.change_integrationaccount"):
        context["form"] = IntegrationAccountForm(instance=account)
        context["can_edit"] = True
    return render(request, f"{TEMPLATE}#test_response", context)


@require_GET
@permission_required("integrations.view_integrationaccount", raise_exception=True)
def test_result(request: HttpRequest, pk: int) -> HttpResponse:
    test = get_object_or_404(ConnectionTest.objects.select_related("job", "account"), pk=pk)
    connection_test_settle(test)
    return _test_response(request, test)


@require_http_methods(["GET", "POST"])
@permission_required("integrations.delete_integrationaccount", raise_exception=True)
def account_delete(request: HttpRequest) -> HttpResponse:
    current = services.account_get()
    if current is None:
        return redirect("integrations:account")
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() != current.name:
            return render(
                request,
                "integrations/account_delete.html",
                {"account": current, "error": "Type the account's name exactly to confirm."},
            )
        disabled = services.account_delete(actor=request.user, account=current)
        messages.success(
            request,
            f"Deleted the Teams integration account. Teams integration is now off for "
            f"{disabled} agents; re-enable them after creating a new account.",
        )
        return redirect("integrations:account")
    return render(request, "integrations/account_delete.html", {"account": current})

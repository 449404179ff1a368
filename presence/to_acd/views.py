"""The ACD webhook settings page and its dead-letter list (Administrators)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.crypto import SecretUnreadable
from presence.sync_models import AcdDelivery, AcdEndpoint
from presence.to_acd import delivery as acd_delivery

SETTINGS = "presence/sync/acd_settings.html"
DEAD_LETTERS = "presence/sync/acd_dead_letters.html"
PAGE_SIZE = 50


class AcdEndpointForm(forms.Form):
    """URL, on/off and the write-only shared secret (blank keeps the stored one)."""

    url = forms.URLField(
        label="Webhook URL",
        max_length=500,
        assume_scheme="https",
        help_text="The contact center's HTTPS endpoint that receives Teams presence changes.",
    )
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        min_length=16,
        max_length=256,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    enabled = forms.BooleanField(label="Send changes to the ACD", required=False)

    def __init__(self, *args, has_secret: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secret"].required = not has_secret
        if has_secret:
            self.fields["secret"].label = "Replace signing secret"
            self.fields["secret"].help_text = "Leave empty to keep the stored secret."
        else:
            self.fields[
                "secret"
            ].help_text = (
                "At least 16 characters; share it with the ACD, which checks each signature."
            )


def _form(endpoint: AcdEndpoint, data=None) -> AcdEndpointForm:
    return AcdEndpointForm(
        data,
        initial={"url": endpoint.url, "enabled": endpoint.enabled},
        has_secret=bool(endpoint.secret),
    )


def _context(request: HttpRequest, endpoint: AcdEndpoint, form=None, test=None) -> dict:
    can_edit = request.user.has_perm("presence.change_acdendpoint")
    return {
        "endpoint": endpoint,
        "has_secret": bool(endpoint.secret),
        "form": form if form is not None else (_form(endpoint) if can_edit else None),
        "can_edit": can_edit,
        "can_view_deliveries": request.user.has_perm("presence.view_acddelivery"),
        "counts": acd_delivery.delivery_counts(),
        "test": test,
        "recent": AcdDelivery.objects.select_related("agent")[:10],
        "signature_header": acd_delivery.SIGNATURE_HEADER,
        "timestamp_header": acd_delivery.TIMESTAMP_HEADER,
        "backoff": [int(wait.total_seconds()) for wait in acd_delivery.BACKOFF],
        "max_attempts": acd_delivery.MAX_ATTEMPTS,
    }


@require_http_methods(["GET", "POST"])
@permission_required("presence.view_acdendpoint", raise_exception=True)
def acd_settings(request: HttpRequest) -> HttpResponse:
    endpoint = acd_delivery.endpoint_get()
    if request.method == "GET":
        return render(request, SETTINGS, _context(request, endpoint))
    if not request.user.has_perm("presence.change_acdendpoint"):
        return render(request, "403.html", status=403)
    form = _form(endpoint, request.POST)
    if not form.is_valid():
        return render(request, SETTINGS, _context(request, endpoint, form=form))
    acd_delivery.endpoint_save(
        actor=request.user,
        url=form.cleaned_data["url"],
        enabled=form.cleaned_data["enabled"],
        secret=form.cleaned_data["secret"],
    )
    messages.success(request, "Saved the ACD webhook.")
    return redirect("sync:acd_settings")


@require_POST
@permission_required("presence.change_acdendpoint", raise_exception=True)
def acd_test(request: HttpRequest) -> HttpResponse:
    """Send a signed test event now and show how it went (in place with htmx)."""
    try:
        result = acd_delivery.endpoint_test_send(actor=request.user)
        test = {"ok": result.ok, "text": "Delivered." if result.ok else result.error}
    except acd_delivery.EndpointNotConfigured as exc:
        test = {"ok": False, "text": str(exc)}
    except SecretUnreadable as exc:
        test = {"ok": False, "text": str(exc)}
    context = _context(request, acd_delivery.endpoint_get(), test=test)
    if request.htmx:
        return render(request, f"{SETTINGS}#test_result", context)
    return render(request, SETTINGS, context)


@require_GET
@permission_required("presence.view_acddelivery", raise_exception=True)
def acd_dead_letters(request: HttpRequest) -> HttpResponse:
    dead = AcdDelivery.objects.filter(status=AcdDelivery.Status.DEAD).select_related("agent")
    page = Paginator(dead, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        DEAD_LETTERS,
        {"page": page, "can_replay": request.user.has_perm("presence.change_acddelivery")},
    )


@require_POST
@permission_required("presence.change_acddelivery", raise_exception=True)
def acd_replay(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(AcdDelivery, pk=delivery_id)
    replayed = acd_delivery.deliveries_replay(actor=request.user, delivery_ids=[delivery.pk])
    if replayed:
        messages.success(request, f"Delivery #{delivery.pk} is being sent again.")
    else:
        messages.error(request, f"Delivery #{delivery.pk} is no longer a dead letter.")
    return redirect("sync:acd_dead_letters")


@require_POST
@permission_required("presence.change_acddelivery", raise_exception=True)
def acd_replay_all(request: HttpRequest) -> HttpResponse:
    replayed = acd_delivery.deliveries_replay(actor=request.user)
    messages.success(
        request,
        f"{replayed} dead deliver{'y is' if replayed == 1 else 'ies are'} being sent again.",
    )
    return redirect("sync:acd_dead_letters")

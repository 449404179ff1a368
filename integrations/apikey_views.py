"""The API keys pages: list, create (the key is shown once), revoke. Administrators only."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from integrations.apikeys import api_key_create, api_key_revoke
from integrations.models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Say who uses it, such as “Genesys production”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
        help_text="Grant only what the caller needs.",
    )


@require_GET
@permission_required("integrations.view_apikey", raise_exception=True)
def apikey_list(request: HttpRequest) -> HttpResponse:
    context = {
        "keys": ApiKey.objects.select_related("created_by", "revoked_by"),
        "can_add": request.user.has_perm("integrations.add_apikey"),
        "can_revoke": request.user.has_perm("integrations.change_apikey"),
    }
    return render(request, "integrations/apikeys.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@permission_required("integrations.add_apikey", raise_exception=True)
def apikey_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key, raw = api_key_create(
            actor=request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
        # Rendered, not redirected: the plaintext lives in this one response only
        # (never in the session or the database), and never_cache keeps it out of caches.
        return render(request, "integrations/apikey_created.html", {"key": key, "raw": raw})
    return render(request, "integrations/apikey_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@permission_required("integrations.change_apikey", raise_exception=True)
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk)
    if request.method == "POST":
        if api_key_revoke(actor=request.user, key=key):
            messages.success(request, f"Revoked {key.name}. Calls with it now get 401.")
        else:
            messages.info(request, f"{key.name} was already revoked.")
        return redirect("integrations:apikey_list")
    return render(request, "integrations/apikey_revoke.html", {"key": key})

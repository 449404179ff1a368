"""Forms of the integration account page. Validation lives here, not in views."""

import re
import uuid

from django import forms
from django.utils import timezone

from integrations.models import (
    CHAT_MESSAGE_DEFAULTS,
    CHAT_MESSAGE_MAX_LENGTH,
    IntegrationAccount,
    LicensingMode,
    PhoneType,
)
from integrations.unsaved import FORM_SECRET, unsaved_open, unsaved_seal

# A verified domain: labels of letters, digits and hyphens, a TLD of letters.
DOMAIN_RE = re.compile(
    r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE
)


def _guid(value: str, label: str) -> str:
    value = value.strip()
    try:
        return str(uuid.UUID(value)) if len(value) == 36 else _bad_guid(label)
    except ValueError:
        return _bad_guid(label)


def guid_clean(value: str, label: str) -> str:
    """``value`` as a canonical GUID; raises ValidationError naming ``label``."""
    return _guid(value, label)


def tenant_clean(value: str) -> str:
    """A Directory (tenant) ID: a GUID or a verified domain (lower-cased); raises
    ValidationError otherwise."""
    value = value.strip()
    if len(value) == 36 and value.count("-") == 4:
        return _guid(value, "Directory (tenant) ID")
    if DOMAIN_RE.match(value):
        return value.lower()
    raise forms.ValidationError(
        "Enter the tenant as a GUID or a verified domain name (e.g. contoso.onmicrosoft.com).",
        code="tenant",
    )


def _bad_guid(label: str):
    raise forms.ValidationError(
        f"{label} must be a GUID like 00000000-0000-0000-0000-000000000000.", code="guid"
    )


def secret_field() -> forms.CharField:
    """A write-only secret: a password input that never renders its value back."""
    return forms.CharField(
        label="Client secret",
        required=False,
        strip=True,
        max_length=1024,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def expiry_field(label: str, help_text: str) -> forms.DateTimeField:
    """A secret's expiry, typed and shown as text in the console's time zone (named on
    the label by the form): a datetime-local input shows the browser's locale and no zone."""
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(
            format="%Y-%m-%d %H:%M", attrs={"placeholder": "YYYY-MM-DD HH:MM"}
        ),
        help_text=help_text,
    )


class IntegrationAccountForm(forms.ModelForm):
    """Create or edit the account. The secret is write-only: never shown, blank keeps it.

    A refused form keeps a typed secret sealed in `kept_secret` (see
    integrations/unsaved.py), so the administrator need not type it again.
    """

    client_secret = secret_field()
    secret_expires_at = expiry_field(
        "Expires at",
        "Read from Microsoft Graph when the account is saved and by Test "
        "connection, when the app may read its own registration (Application.Read.All); "
        "otherwise enter it from the Azure portal.",
    )
    licensing_mode = forms.ChoiceField(
        choices=LicensingMode.choices,
        widget=forms.RadioSelect,
        initial=LicensingMode.EVALUATION,
    )

    class Meta:
        model = IntegrationAccount
        fields = [
            "name",
            "object_id",
            "tenant",
            "client_id",
            "secret_expires_at",
            "licensing_mode",
            *CHAT_MESSAGE_DEFAULTS,
        ]
        help_texts = {
            "object_id": "The app registration's Object ID (not the Client ID); used to read "
            "the secret's expiry from Graph.",
            "tenant": "A GUID or a verified domain such as contoso.onmicrosoft.com.",
            "client_id": "The Application (client) ID of the app registration.",
        }

    def __init__(self, *args, user_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_id = user_id
        self.secret_in_hand = ""
        creating = self.instance.pk is None
        self.fields["client_secret"].required = creating and not self.kept_secret()
        zone = timezone.get_current_timezone_name()
        self.fields["secret_expires_at"].label = f"Expires at ({zone})"
        if not creating:
            self.fields["client_secret"].label = "Replace client secret"
            self.fields["client_secret"].help_text = "Leave empty to keep the stored secret."
        for field in CHAT_MESSAGE_DEFAULTS:
            self.fields[field].max_length = CHAT_MESSAGE_MAX_LENGTH

    def kept_secret(self) -> str:
        """The secret typed into this form before it was last refused, if any."""
        kept = unsaved_open(
            self.data.get("kept_secret", ""), purpose=FORM_SECRET, user_id=self.user_id
        )
        return (kept or {}).get("client_secret", "")

    def clean_client_secret(self) -> str:
        self.secret_in_hand = self.cleaned_data["client_secret"] or self.kept_secret()
        return self.secret_in_hand

    def kept_secret_seal(self) -> str:
        """For a refused form: the secret in hand, sealed, to carry to the next try."""
        if not (self.is_bound and self.errors and self.secret_in_hand):
            return ""
        return unsaved_seal(
            values={"client_secret": self.secret_in_hand},
            purpose=FORM_SECRET,
            user_id=self.user_id,
        )

    def clean_object_id(self) -> str:
        value = self.cleaned_data["object_id"].strip()
        return _guid(value, "Object ID") if value else ""

    def clean_client_id(self) -> str:
        return _guid(self.cleaned_data["client_id"], "Client ID")

    def clean_tenant(self) -> str:
        return tenant_clean(self.cleaned_data["tenant"])


class PhoneTypesForm(forms.Form):
    """The ordered phone types shown to agents, plus an optional move instruction."""

    order = forms.MultipleChoiceField(choices=PhoneType.choices)
    shown = forms.MultipleChoiceField(choices=PhoneType.choices, required=False)
    move = forms.CharField(required=False)

    def clean(self):
        cleaned = super().clean()
        order = cleaned.get("order") or []
        if len(set(order)) != len(order):
            raise forms.ValidationError("Each phone type may appear only once.")
        move = cleaned.get("move") or ""
        if move:
            kind, _, direction = move.partition(":")
            if kind not in order or direction not in ("up", "down"):
                raise forms.ValidationError("Unknown move.")
            index = order.index(kind)
            target = index - 1 if direction == "up" else index + 1
            if 0 <= target < len(order):
                order[index], order[target] = order[target], order[index]
        shown = set(cleaned.get("shown") or [])
        phone_types = [kind for kind in order if kind in shown]
        if not phone_types:
            raise forms.ValidationError("Show at least one phone type to agents.")
        cleaned["phone_types"] = phone_types
        cleaned["order"] = order
        return cleaned


def phone_type_rows(phone_types: list[str]) -> list[dict]:
    """Every phone type in display order: shown ones first, in their saved order."""
    labels = dict(PhoneType.choices)
    hidden = [kind for kind in PhoneType.values if kind not in phone_types]
    return [
        {"value": kind, "label": labels[kind], "shown": kind in phone_types}
        for kind in [*phone_types, *hidden]
    ]


def phone_type_rows_as_posted(order: list[str], shown: list[str], saved: list[str]) -> list[dict]:
    """The rows as the admin arranged them, when that arrangement could not be saved."""
    if sorted(order) != sorted(PhoneType.values):
        return phone_type_rows(saved)
    labels = dict(PhoneType.choices)
    return [{"value": kind, "label": labels[kind], "shown": kind in shown} for kind in order]

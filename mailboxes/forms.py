"""The mailbox form. The separate app's client secret is write-only: never shown,
blank keeps the stored one."""

from django import forms
from django.utils import timezone

from accounts.models import BusinessUnit
from integrations.forms import expiry_field, guid_clean, secret_field, tenant_clean
from mailboxes.models import Mailbox


class MailboxForm(forms.ModelForm):
    client_secret = secret_field()
    secret_expires_at = expiry_field(
        "Secret expires at",
        "From the app registration's Certificates & secrets page; a pink bar shows from 15 "
        "days before it.",
    )
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.all(), required=False, empty_label="— none —"
    )

    class Meta:
        model = Mailbox
        fields = [
            "address",
            "display_name",
            "business_unit",
            "access_type",
            "app_source",
            "tenant",
            "client_id",
            "secret_expires_at",
            "policy_probe_address",
            "move_to_folder_name",
        ]
        widgets = {"access_type": forms.RadioSelect, "app_source": forms.RadioSelect}
        help_texts = {
            "address": "The mailbox's SMTP address, e.g. support@contoso.com.",
            "app_source": "Used for access without a user. A separate app must be a "
            "single-tenant registration with the application permissions Mail.ReadWrite and "
            "Mail.Send, granted by an administrator.",
            "move_to_folder_name": "A folder of the mailbox (its display name) that mail "
            "handed to the contact center is moved to; empty: it stays in the inbox, marked read.",
            "policy_probe_address": "A mailbox ccbridge must NOT be able to read, used by Test "
            "mailbox to check the application access policy. Empty: the directory's first "
            "other user.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        self.fields["secret_expires_at"].label = f"Secret expires at ({zone})"
        if self.instance.pk and self.instance.has_secret:
            self.fields["client_secret"].label = "Replace client secret"
            self.fields["client_secret"].help_text = "Leave empty to keep the stored secret."

    def clean_move_to_folder_name(self) -> str:
        return self.cleaned_data["move_to_folder_name"].strip()

    def clean_address(self) -> str:
        return self.cleaned_data["address"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        separate = (
            cleaned.get("access_type") == Mailbox.AccessType.APP
            and cleaned.get("app_source") == Mailbox.AppSource.SEPARATE
        )
        if not separate:
            cleaned["tenant"], cleaned["client_id"], cleaned["secret_expires_at"] = "", "", None
            return cleaned
        for name, check in (
            ("tenant", tenant_clean),
            ("client_id", lambda v: guid_clean(v, "Client ID")),
        ):
            value = (cleaned.get(name) or "").strip()
            if not value:
                self.add_error(name, "Required for a separate app registration.")
                continue
            try:
                cleaned[name] = check(value)
            except forms.ValidationError as exc:
                self.add_error(name, exc)
        if not cleaned.get("client_secret") and not self.instance.has_secret:
            self.add_error("client_secret", "Required for a separate app registration.")
        return cleaned

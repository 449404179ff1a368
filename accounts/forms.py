from django import forms

from accounts.csvencoding import CsvEncoding
from accounts.csvimport import MAX_BYTES, MAX_ROWS, TOO_LARGE
from accounts.models import BusinessUnit, DirectorySyncState


class DirectoryFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", "All users"),
        ("enabled", "Enabled"),
        ("disabled", "Disabled"),
        ("removed", "Removed"),
        ("mapped", "Mapped"),
        ("unmapped", "Unmapped"),
    ]
    q = forms.CharField(required=False, label="Search")
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label="Show")


class MappingFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", "All agents"),
        ("mapped", "Mapped"),
        ("unmapped", "Unmapped"),
        ("ambiguous", "Ambiguous"),
        ("disabled", "Directory user disabled"),
        ("removed", "Directory user removed"),
        ("teams_off", "Teams integration off"),
    ]
    q = forms.CharField(required=False, label="Search")
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label="Show")
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.all(), required=False, empty_label="All business units"
    )


class SyncIntervalForm(forms.ModelForm):
    class Meta:
        model = DirectorySyncState
        fields = ["interval_minutes"]
        labels = {"interval_minutes": "Sync every (minutes)"}
        help_texts = {"interval_minutes": "0 turns the scheduled sync off."}

    def clean_interval_minutes(self) -> int:
        value = self.cleaned_data["interval_minutes"]
        if value and not 5 <= value <= 7 * 24 * 60:
            raise forms.ValidationError("Choose between 5 minutes and 7 days, or 0 for never.")
        return value


class AgentsCsvForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: external_id, name, email, business_unit (its code), and optionally "
        "teams (separated by ;) and teams_enabled (yes/no). The first row is the header. "
        f"Up to {MAX_BYTES // (1024 * 1024)} MB and {MAX_ROWS:,} rows.",
    )
    encoding = forms.ChoiceField(
        label="Encoding",
        choices=CsvEncoding.choices,
        initial=CsvEncoding.UTF_8,
        required=False,
        help_text='How the file was saved. Excel\'s "CSV UTF-8" is UTF-8; its '
        '"CSV (Comma delimited)" on Windows is usually Windows-1252.',
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        # Refused before it is read: the preview would refuse it anyway.
        if file.size > MAX_BYTES:
            raise forms.ValidationError(TOO_LARGE)
        return file

    def clean_encoding(self) -> str:
        return self.cleaned_data["encoding"] or CsvEncoding.UTF_8


class AgentsImportForm(forms.Form):
    """The preview's Import button: it names the upload kept on the server."""

    upload = forms.UUIDField()

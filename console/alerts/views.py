"""The Alerts screen: recipients, incidents open and closed, and the outbox."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console.alerts.services import alert_recipient_add, alert_recipient_remove
from console.models import AlertEmail, AlertRecipient, Incident


class RecipientForm(forms.Form):
    email = forms.EmailField(label="Email address")


@require_http_methods(["GET", "POST"])
@permission_required("console.manage_alerts", raise_exception=True)
def alerts(request: HttpRequest) -> HttpResponse:
    form = RecipientForm()
    if request.method == "POST":
        if "remove" in request.POST:
            alert_recipient_remove(recipient_id=int(request.POST["remove"]))
            messages.success(request, "Removed the recipient.")
            return redirect("console:alerts")
        form = RecipientForm(request.POST)
        if form.is_valid():
            recipient = alert_recipient_add(email=form.cleaned_data["email"])
            messages.success(request, f"{recipient.email} now gets the alerts.")
            return redirect("console:alerts")
    context = {
        "form": form,
        "recipients": AlertRecipient.objects.all(),
        "incidents": Incident.objects.all()[:100],
        "outbox": AlertEmail.objects.select_related("incident")[:50],
    }
    return render(request, "console/alerts.html", context)

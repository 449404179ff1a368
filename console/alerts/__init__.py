"""Alerts: an email to every recipient when a health signal or a setup check turns
red, and one when it clears. ``signals`` says what is red now (pure reads),
``services`` opens and clears incidents and sends the mail."""

"""Office 365 mailboxes: the email channel of the contact center through Microsoft Graph."""

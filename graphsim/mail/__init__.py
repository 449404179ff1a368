"""Exchange Online mailboxes over Graph: folders, messages with attachments, sending,
replying, marking read, moving, delta, and who may open which mailbox (application
access policies, users without a mailbox)."""

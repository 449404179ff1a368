"""Expert chat: what the agent desktop reads about Teams experts."""

from django.db import models

from accounts.models import DirectoryUser


class ExpertPresence(models.Model):
    """A directory user's Teams presence as last read from Graph for the agent desktop.

    Experts are not agents, so no subscription covers them: the directory API reads
    their presence on demand and keeps it here for a few seconds, so an agent paging
    through the directory does not cost one Graph call per keystroke.
    """

    directory_user = models.OneToOneField(
        DirectoryUser, on_delete=models.CASCADE, related_name="expert_presence"
    )
    availability = models.CharField(max_length=32)
    activity = models.CharField(max_length=32)
    read_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.directory_user}: {self.availability}/{self.activity}"

from django.db import models
from django.utils import timezone


class FloorRow(models.Model):
    """One request's body, stored as JSON: the same kind of write as a submission, with nothing around it."""

    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"floor row {self.pk}"

"""What the dashboard remembers per person (the domain lives in `jobs`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Preference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="Show times in this zone; blank follows the browser."
    )

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'browser'}"

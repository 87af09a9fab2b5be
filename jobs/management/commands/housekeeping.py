from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from jobs import retention


class Command(BaseCommand):
    help = "Thin old snapshots, drop old raw payloads and old poll attempts now (beat does it daily)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(retention.run().line())

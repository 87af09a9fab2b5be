from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import config
from jobs.models import Team

DEMO_CONFIG = Path(settings.BASE_DIR) / "demo" / "demo.toml"


class Command(BaseCommand):
    help = "Create the demo admin and load demo/demo.toml (pointing at the simulator). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=os.environ.get("DEMO_USERNAME", "admin"))
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "pipewatch-demo"))
        parser.add_argument("--base-url", default="", help="where the simulator runs (default: as in demo.toml)")
        parser.add_argument(
            "--allow-without-debug", action="store_true", help="load the demo even with DEBUG off (docker compose demo)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not (settings.DEBUG or options["allow_without_debug"]):
            raise CommandError("demo_setup is for local demos; with DEBUG off pass --allow-without-debug")
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=options["username"], defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(options["password"])
            user.save()
        try:
            teams, accounts, pipelines = config.load_all(DEMO_CONFIG)
            if options["base_url"]:
                for account in accounts:
                    account.base_url = options["base_url"]
            result = config.apply(accounts, pipelines, actor_label="demo_setup", teams=teams)
            user.teams.add(*Team.objects.filter(slug="data-eng"))  # so that "My teams" shows in the demo
        except config.ConfigError as exc:
            raise CommandError("\n".join(exc.problems)) from None
        self.stdout.write(f"demo config: {result.summary()}")
        login = (
            f"{options['username']} / {options['password']}"
            if created
            else f"{options['username']} (existing password)"
        )
        self.stdout.write(self.style.SUCCESS(f"Demo login: {login}  ->  http://127.0.0.1:8000/"))

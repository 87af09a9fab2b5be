from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import config


class Command(BaseCommand):
    help = "Create or update vendor accounts and pipelines from a TOML file (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path to the TOML configuration")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="delete accounts, and pipelines from earlier config files, that the file no longer lists",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="validate only, exactly as applying would (then roll back); change nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check = options["check"]
        try:
            result = config.run(options["file"], check=check, prune=options["prune"])
        except config.ConfigError as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(exc.problems)} problem(s); nothing was changed") from None
        if check:
            self.stdout.write(f"OK: applying it would make {result.summary()}; nothing was changed")
            return
        for label in result.created:
            self.stdout.write(f"created {label}")
        for label in result.updated:
            self.stdout.write(f"updated {label}")
        for label in result.deleted:
            self.stdout.write(f"deleted {label}")
        self.stdout.write(self.style.SUCCESS(result.summary()))

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import audit
from jobs.models import ApiToken
from jobs.tokens import MAX_DAYS, issue_token


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for")
        parser.add_argument(
            "--days", type=int, default=None, help=f"lifetime in days, 1 to {MAX_DAYS} (default: API_TOKEN_DAYS)"
        )
        parser.add_argument(
            "--scope",
            choices=[s for s, _ in ApiToken.SCOPES],
            default=ApiToken.READ,
            help="read: GET only; operate: also acts on pipelines (if the user is an operator)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        if not user.is_active:
            raise CommandError(f"{user.get_username()} is deactivated")
        days = settings.API_TOKEN_DAYS if options["days"] is None else options["days"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be 1 to {MAX_DAYS}")
        with audit.acting_as("create_api_token"):
            token = issue_token(user, options["name"], scope=options["scope"], days=days)
        self.stdout.write(token)

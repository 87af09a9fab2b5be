from __future__ import annotations

import traceback
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import Account
from jobs.polling import poll_now


class Command(BaseCommand):
    help = "Poll every account now, in-process (no Celery). Vendor failures are reported, not raised."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="poll only the account with this name")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = Account.objects.order_by("name")
        if options["account"]:
            accounts = accounts.filter(name=options["account"])
            if not accounts.exists():
                raise CommandError(f"no account named {options['account']!r}")
        failed = 0
        for account in accounts:
            try:
                self.stdout.write(poll_now(account).line())
            except Exception as exc:  # our own bug: say so, keep polling the others, exit 1
                failed += 1
                self.stderr.write(f"{account.name}: internal error: {type(exc).__name__}: {exc}")
                self.stderr.write(traceback.format_exc())
        if failed:
            raise CommandError(f"{failed} account(s) failed inside Pipewatch itself")

"""Re-encrypt every stored secret with the newest credentials key.

Rotation without downtime: deploy CREDENTIALS_KEY=new,old everywhere (every key decrypts,
the first one encrypts), run this command, check with `--check` that nothing is left on an
old key, then drop the old key. Rows are rewritten in small transactions and only if their
token did not change meanwhile (an admin saving new credentials during the run wins), so the
command is safe to run beside web and workers and to run again. It prints counts and labels,
never a secret or a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from jobs import crypto
from jobs.audit import record
from jobs.models import Account, AlertChannel, Upload

# Every model field that holds a Fernet token: (model, field, label field for messages).
ENCRYPTED_FIELDS: tuple[tuple[type[models.Model], str, str], ...] = (
    (Account, "credentials_token", "name"),
    (AlertChannel, "url_token", "name"),
    (Upload, "spec_token", "filename"),  # a large upload's form fields, while it waits for a worker
)


@dataclass
class Counts:
    what: str
    rotated: int = 0
    current: int = 0
    empty: int = 0
    changed_meanwhile: int = 0
    unreadable: list[str] = field(default_factory=list)

    def line(self, check: bool) -> str:
        verb = "need rotation" if check else "rotated"
        parts = [
            f"{self.rotated} {verb}",
            f"{self.current} already on the newest key",
            f"{self.empty} without secrets",
        ]
        if self.changed_meanwhile:
            parts.append(f"{self.changed_meanwhile} changed meanwhile (left as saved)")
        parts.append(f"{len(self.unreadable)} unreadable")
        return f"{self.what}: " + ", ".join(parts)

    def as_dict(self) -> dict[str, int]:
        return {
            "rotated": self.rotated,
            "current": self.current,
            "empty": self.empty,
            "changed_meanwhile": self.changed_meanwhile,
            "unreadable": len(self.unreadable),
        }


class Command(BaseCommand):
    help = (
        "Re-encrypt stored credentials and alert channel URLs with the first key in CREDENTIALS_KEY "
        "(newest first; the old keys must still be listed). Idempotent; prints counts, never secrets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100, help="rows per transaction (default 100)")
        parser.add_argument(
            "--check",
            action="store_true",
            help="change nothing; count what is not yet on the newest key (exit 1 if any, or any unreadable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        check: bool = options["check"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        keys = list(settings.CREDENTIALS_KEYS)
        ring = crypto.ring()  # also validates every configured key
        newest = Fernet(keys[0].encode())
        if len(keys) == 1 and not check:
            self.stdout.write("CREDENTIALS_KEY holds one key: nothing to rotate to, checking only that rows are on it.")

        results = [
            self._rotate(model, name, label, ring, newest, batch_size, check) for model, name, label in ENCRYPTED_FIELDS
        ]
        for counts in results:
            self.stdout.write(counts.line(check))
            for label in counts.unreadable:
                self.stderr.write(f"  {counts.what} {label!r}: no configured key decrypts it")

        unreadable = sum(len(c.unreadable) for c in results)
        pending = sum(c.rotated for c in results)
        if not check and (pending or unreadable):
            record(
                "credentials.rotated",
                actor="rotate_keys",
                target_type="credentials",
                target_label=f"{pending} secret(s) re-encrypted",
                outcome="error" if unreadable else "ok",
                detail={"keys_configured": len(keys), **{c.what: c.as_dict() for c in results}},
            )
        if unreadable:
            raise CommandError(
                f"{unreadable} secret(s) cannot be decrypted with any configured key: "
                "re-enter them, or add back the key they were written with"
            )
        if check and pending:
            raise CommandError(f"{pending} secret(s) are still on an older key: run rotate_keys")

    def _rotate(
        self,
        model: type[models.Model],
        name: str,
        label: str,
        ring: Any,
        newest: Fernet,
        batch_size: int,
        check: bool,
    ) -> Counts:
        counts = Counts(str(model._meta.verbose_name_plural))
        last_pk = 0
        while True:
            # Keyset pagination: stable while rows are added or rewritten behind us.
            batch = list(
                model.objects.filter(pk__gt=last_pk).order_by("pk").values_list("pk", label, name)[:batch_size]
            )
            if not batch:
                return counts
            last_pk = batch[-1][0]
            with transaction.atomic():
                for pk, row_label, token in batch:
                    if not token:
                        counts.empty += 1
                        continue
                    try:
                        newest.decrypt(token.encode())
                    except InvalidToken:
                        pass
                    else:
                        counts.current += 1
                        continue
                    try:
                        rotated = ring.rotate(token.encode()).decode()
                    except InvalidToken:
                        counts.unreadable.append(str(row_label))
                        continue
                    if check:
                        counts.rotated += 1
                        continue
                    # Only if nobody saved a new secret since we read it (theirs is on the new key).
                    if model.objects.filter(pk=pk, **{name: token}).update(**{name: rotated}):
                        counts.rotated += 1
                    else:
                        counts.changed_meanwhile += 1

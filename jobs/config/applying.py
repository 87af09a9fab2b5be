"""Applying checked specs in one transaction, every instance validated against its fields
before it is saved; a `check` apply does it all and rolls it back."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from .. import audit
from ..account_rules import shown
from ..emptydays import reconcile
from ..health import derive
from ..models import Account, Pipeline, Run, Team
from ..redaction import redact
from .specs import AccountSpec, ApplyResult, ConfigError, PipelineSpec, TeamSpec


class _Rollback(Exception):
    """Ends a `check` apply: everything it wrote is rolled back."""


def apply(
    accounts: list[AccountSpec],
    pipelines: list[PipelineSpec],
    *,
    prune: bool = False,
    check: bool = False,
    actor_label: str = "apply_config",
    teams: list[TeamSpec] | None = None,
) -> ApplyResult:
    """Apply checked specs in one transaction; every instance is validated against its
    model's fields before it is saved, and any problem (`ConfigError`) undoes it all.
    With `check` it all happens and is rolled back: the result says what would change."""
    applier = _Applier(actor_label)
    try:
        # Each account and pipeline it changes is audited by the model hooks, naming the command.
        with audit.acting_as(actor_label), transaction.atomic():
            applier.teams = apply_teams(teams or [], applier.result)
            applier.apply(accounts, pipelines, prune)
            if check:
                raise _Rollback
    except _Rollback:
        pass
    except DatabaseError as exc:  # full_clean let something through: still no traceback, nothing applied
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError([f"{applier.where}: the database refused it: {detail}"]) from None
    return applier.result


class _Applier:
    def __init__(self, actor_label: str) -> None:
        self.actor_label = actor_label
        self.result = ApplyResult()
        self.problems: list[str] = []
        self.where = "config"  # the entry being written, for a database error
        self.teams: dict[str, Team] = {}

    def team(self, slug: str) -> Team | None:
        """The team a spec names (checked by the validator: in the file or the database)."""
        if not slug:
            return None
        if slug not in self.teams:
            team = Team.objects.filter(slug=slug).first()
            if team is None:  # specs loaded without their [[teams]] (`load`), naming a team not made yet
                raise ConfigError([f"{self.where}: field 'team': no team {shown(slug)!r} in the database"])
            self.teams[slug] = team
        return self.teams[slug]

    def apply(self, accounts: list[AccountSpec], pipelines: list[PipelineSpec], prune: bool) -> None:
        result = self.result
        by_name: dict[str, Account] = {}
        for spec in accounts:
            self.where = spec.where
            label = f"account {spec.name}"
            account = Account.objects.filter(name=spec.name).first()
            status = result.unchanged
            if account is None:
                account, status = Account(name=spec.name), result.created
            elif _account_differs(account, spec) or account.team_id != getattr(self.team(spec.team), "pk", None):
                status = result.updated
            _set_account(account, spec)
            account.team = self.team(spec.team)
            by_name[spec.name] = account
            if self.valid(account, spec.where) and status is not result.unchanged:
                account.save()
            status.append(label)
        for spec in pipelines:
            self.where = spec.where
            account = by_name.get(spec.account) or Account.objects.get(name=spec.account)
            label = f"pipeline {spec.account}/{spec.kind}/{spec.external_id}"
            target = {"kind": spec.kind, "external_id": spec.external_id}
            pipeline = Pipeline.objects.filter(account=account, **target).first() if account.pk else None
            config = redact(spec.config)  # kept for people to read: no secrets
            status = result.unchanged
            if pipeline is None:
                status = result.created
                pipeline = Pipeline(account=account, **target, source="config")
            elif (pipeline.name, pipeline.config, pipeline.team_id, pipeline.empty_day_is_failure) != (
                spec.name,
                config,
                getattr(self.team(spec.team), "pk", None),
                spec.empty_day_is_failure,
            ):
                status = result.updated
            pipeline.name, pipeline.config, pipeline.team = spec.name, config, self.team(spec.team)
            switch_empty = pipeline.empty_day_is_failure != spec.empty_day_is_failure
            pipeline.empty_day_is_failure = spec.empty_day_is_failure
            # An account that failed its own checks is not saved: check the rest of the pipeline.
            exclude = ["account"] if account.pk is None else []
            valid = self.valid(pipeline, spec.where, exclude)
            for job_id in spec.jobs:
                valid = self.valid_value(Run, "external_id", job_id, spec.where, "jobs") and valid
            if not valid or self.problems:
                continue  # nothing more is written once anything is wrong; keep checking
            if status is not result.unchanged:
                if switch_empty and pipeline.pk:  # the days already recorded, read again under the option
                    reconcile(pipeline)
                    derive(pipeline, timezone.now())
                pipeline.save()
            status.append(label)
            for job_id in spec.jobs:
                if register_job(pipeline, job_id):
                    result.created.append(f"job {spec.account}/{spec.kind}/{job_id}")
        if self.problems:
            raise ConfigError(self.problems)  # rolls back the transaction
        self.where = "config"
        if prune:
            keep = {(p.account, p.kind, p.external_id) for p in pipelines}
            for p in Pipeline.objects.select_related("account").filter(source="config"):
                if (p.account.name, p.kind, p.external_id) not in keep:
                    result.deleted.append(f"pipeline {p.account.name}/{p.kind}/{p.external_id}")
                    p.delete()
            for a in Account.objects.exclude(name__in=[s.name for s in accounts]):
                result.deleted.append(f"account {a.name}")
                a.delete()
        if result.created or result.updated or result.deleted:
            audit.record(
                "config.apply",
                actor=self.actor_label,
                target_type="config",
                detail={"created": result.created, "updated": result.updated, "deleted": result.deleted},
            )

    def valid(self, instance: models.Model, where: str, exclude: list[str] | None = None) -> bool:
        """`full_clean`: every field against its model (length, choices, JSON), uniqueness."""
        try:
            instance.full_clean(exclude=exclude)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                prefix = "" if name == NON_FIELD_ERRORS else f"field '{name}': "
                self.problems.extend(f"{where}: {prefix}{message}" for message in messages)
            return False
        return True

    def valid_value(self, model: type[models.Model], name: str, value: Any, where: str, key: str) -> bool:
        """One value against the model field it will be stored in."""
        try:
            model._meta.get_field(name).clean(value, None)
        except ValidationError as exc:
            self.problems.extend(f"{where}: field '{key}': {shown(str(value))!r}: {m}" for m in exc.messages)
            return False
        return True


def apply_teams(specs: list[TeamSpec], result: ApplyResult) -> dict[str, Team]:
    """Create or rename the file's teams (by slug); teams made in the admin are left alone."""
    teams: dict[str, Team] = {}
    for spec in specs:
        team = Team.objects.filter(slug=spec.slug).first()
        status = result.unchanged
        if team is None:
            team, status = Team(slug=spec.slug, name=spec.name), result.created
        elif team.name != spec.name:
            team.name, status = spec.name, result.updated
        if status is not result.unchanged:
            try:
                team.full_clean()
            except ValidationError as exc:
                problems = [f"{spec.where}: field '{k}': {m}" for k, ms in exc.message_dict.items() for m in ms]
                raise ConfigError(problems) from None
            team.save()
        status.append(f"team {spec.slug}")
        teams[spec.slug] = team
    return teams


def register_job(pipeline: Pipeline, job_id: str, label: str = "") -> bool:
    """Track one vendor job as a run of a one-shot pipeline; False if already tracked.
    `label` says what was asked for, when the job was created here."""
    now = timezone.now()
    _, created = Run.objects.get_or_create(
        pipeline=pipeline,
        external_id=job_id,
        defaults={
            "state": "queued",
            "vendor_status": "",
            "first_seen_at": now,
            "last_seen_at": now,
            "last_change_at": now,
            "sort_at": now,
            "label": label[:200],
        },
    )
    if created:
        Pipeline.objects.filter(pk=pipeline.pk).update(next_poll_at=now)
    return created


def _set_account(account: Account, spec: AccountSpec) -> None:
    account.vendor, account.region, account.base_url = spec.vendor, spec.region, spec.base_url
    account.settings = spec.settings
    account.credentials = spec.credentials


def _account_differs(account: Account, spec: AccountSpec) -> bool:
    return (account.vendor, account.region, account.base_url, account.settings) != (
        spec.vendor,
        spec.region,
        spec.base_url,
        spec.settings,
    ) or account.credentials != spec.credentials

"""Configuration as code: `apply_config FILE.toml` creates or updates accounts and pipelines.

`run` is the one path of `apply_config`, with or without `--check`: the file is read and
checked (UTF-8, TOML, every key known at every depth, value types, no NUL), then applied
in one transaction in which every model instance is checked against its fields
(`full_clean`: lengths, choices, uniqueness) before it is saved; `--check` rolls that
transaction back. So a file `--check` passes is a file that applies. Every problem is
reported (file, entry, field) and a file with any problem changes nothing.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from vendors.registry import VENDORS

from . import audit
from .account_rules import AccountFields, check, shown
from .emptydays import reconcile
from .health import derive
from .models import Account, Pipeline, Run, Team
from .redaction import redact

ACCOUNT_KEYS = {"name", "vendor", "region", "base_url", "settings", "credentials", "team"}
PIPELINE_KEYS = {"account", "kind", "external_id", "name", "jobs", "config", "team", "empty_day_is_failure"}
TEAM_KEYS = {"slug", "name"}


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class AccountSpec:
    name: str
    vendor: str
    region: str
    base_url: str
    settings: dict[str, Any]
    credentials: dict[str, str]
    where: str = ""  # "file: accounts[0] (name)", for problems found when applying
    team: str = ""  # a team's slug: the default owner of the account's pipelines


@dataclass
class TeamSpec:
    slug: str
    name: str
    where: str = ""


@dataclass
class PipelineSpec:
    account: str
    kind: str
    external_id: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)  # one-shot kinds: job ids to track
    where: str = ""
    team: str = ""  # a team's slug, overriding the account's
    empty_day_is_failure: bool = False


@dataclass
class ApplyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted"
        )


def run(
    path: str | Path,
    *,
    check: bool = False,
    prune: bool = False,
    environ: dict[str, str] | None = None,
    actor_label: str = "apply_config",
) -> ApplyResult:
    """Check and apply a file; with `check`, the same work rolled back (what it would do)."""
    teams, accounts, pipelines = load_all(path, environ)
    return apply(accounts, pipelines, prune=prune, check=check, actor_label=actor_label, teams=teams)


def load(path: str | Path, environ: dict[str, str] | None = None) -> tuple[list[AccountSpec], list[PipelineSpec]]:
    """Accounts and pipelines of a file without its teams (which must then exist already)."""
    _, accounts, pipelines = load_all(path, environ)
    return accounts, pipelines


def load_all(
    path: str | Path, environ: dict[str, str] | None = None
) -> tuple[list[TeamSpec], list[AccountSpec], list[PipelineSpec]]:
    environ = dict(os.environ if environ is None else environ)
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror or type(exc).__name__})"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message names the line and column
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return _Validator(str(path), environ).run(data)


class _Validator:
    """The file's shape: every key known, every value of the right type, no NUL. What a
    value must be once stored (lengths, choices) is `apply`'s `full_clean`."""

    def __init__(self, filename: str, environ: dict[str, str]) -> None:
        self.filename = filename
        self.environ = environ
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.filename}: {where}: {message}")

    def unknown_keys(self, where: str, table: dict[str, Any], known: set[str] | tuple[str, ...], prefix: str) -> None:
        expected = ", ".join(sorted(known)) or "none"
        for key in sorted(set(table) - set(known)):
            self.problem(where, f"field '{prefix}{shown(key)}': unknown (expected: {expected})")

    def run(self, data: dict[str, Any]) -> tuple[list[TeamSpec], list[AccountSpec], list[PipelineSpec]]:
        for key in sorted(set(data) - {"teams", "accounts", "pipelines"}):
            self.problem(shown(key), "unknown top-level key (expected [[teams]], [[accounts]] and [[pipelines]])")
        teams = [t for i, entry in enumerate(self._list(data, "teams")) if (t := self.team(i, entry)) is not None]
        self.team_slugs = {t.slug for t in teams} | set(Team.objects.values_list("slug", flat=True))
        accounts = [self.account(i, a) for i, a in enumerate(self._list(data, "accounts"))]
        accounts = [a for a in accounts if a is not None]
        seen: set[str] = set()
        for a in accounts:
            if a.name in seen:
                self.problem(f"accounts ({shown(a.name)})", "field 'name': duplicate account name")
            seen.add(a.name)
        vendors = {a.name: a.vendor for a in accounts}
        vendors.update({n: v for n, v in Account.objects.exclude(name__in=vendors).values_list("name", "vendor")})
        pipelines = [self.pipeline(i, p, vendors) for i, p in enumerate(self._list(data, "pipelines"))]
        flat = [spec for group in pipelines if group for spec in group]
        keys: set[tuple[str, str, str]] = set()
        for p in flat:
            key = (p.account, p.kind, p.external_id)
            if key in keys:
                self.problem(
                    f"pipelines ({shown(p.account)}/{shown(p.external_id)})",
                    "duplicate pipeline for this account and kind",
                )
            keys.add(key)
        if self.problems:
            raise ConfigError(self.problems)
        return teams, accounts, flat

    def team(self, i: int, entry: Any) -> TeamSpec | None:
        where = f"teams[{i}]"
        if not isinstance(entry, dict):
            self.problem(where, "must be a table")
            return None
        slug = self._str(where, entry, "slug")
        where = f"teams[{i}] ({shown(slug)})" if slug else where
        self.unknown_keys(where, entry, TEAM_KEYS, "")
        name = self._str(where, entry, "name", required=False) or slug
        return TeamSpec(slug, name, f"{self.filename}: {where}") if slug else None

    def team_ref(self, where: str, entry: dict[str, Any]) -> str:
        """A `team` field: the slug of a team in this file or the database ("" when unset)."""
        slug = self._str(where, entry, "team", required=False)
        if slug and slug not in self.team_slugs:
            self.problem(where, f"field 'team': no team {shown(slug)!r} in this file ([[teams]]) or the database")
            return ""
        return slug

    def _list(self, data: dict[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problem(key, f"must be an array of tables ([[{key}]])")
            return []
        return value

    def _str(self, where: str, entry: dict[str, Any], key: str, required: bool = True) -> str:
        value = entry.get(key)
        if value is None:
            if required:
                self.problem(where, f"field '{key}': required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(where, f"field '{key}': must be a non-empty string")
            return ""
        if "\x00" in value:
            self.problem(where, f"field '{key}': contains a NUL character")
            return ""
        return value.strip()

    def _json(self, where: str, name: str, value: Any) -> bool:
        """A value stored as JSON: strings without NUL, finite numbers, booleans, arrays
        and tables of them. TOML dates and times are not JSON: quote them."""
        if isinstance(value, str):
            ok = "\x00" not in value
            if not ok:
                self.problem(where, f"field '{name}': contains a NUL character")
            return ok
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(where, f"field '{name}': {value} is not a finite number")
            return False
        if isinstance(value, bool | int | float):
            return True
        if isinstance(value, list):
            return all([self._json(where, f"{name}[{i}]", v) for i, v in enumerate(value)])
        if isinstance(value, dict):
            keys_ok = all("\x00" not in k for k in value)
            if not keys_ok:
                self.problem(where, f"field '{name}': a key contains a NUL character")
            return all([self._json(where, f"{name}.{shown(k)}", v) for k, v in value.items()]) and keys_ok
        self.problem(where, f"field '{name}': a TOML {type(value).__name__} is not accepted here; quote it")
        return False

    def account(self, i: int, entry: Any) -> AccountSpec | None:
        where = f"accounts[{i}]"
        if not isinstance(entry, dict):
            self.problem(where, "must be a table")
            return None
        name = entry.get("name")
        if isinstance(name, str) and name.strip() and "\x00" not in name:
            where = f"accounts[{i}] ({shown(name.strip())})"
        self.unknown_keys(where, entry, ACCOUNT_KEYS, "")
        asked = AccountFields(
            name=name,
            vendor=entry.get("vendor"),
            region=entry.get("region", ""),
            base_url=entry.get("base_url", ""),
            settings=entry.get("settings", {}),
            credentials=self.credentials(where, entry.get("credentials", {})),
        )
        # The file updates the account of its name: that name is no clash.
        existing = Account.objects.filter(name=name.strip()).first() if where != f"accounts[{i}]" else None
        checked = check(asked, existing)  # the rules the admin, the accounts page and the API apply
        for key, message in checked.problems.items():
            self.problem(where, f"field '{shown(key)}': {message}")
        team = self.team_ref(where, entry)
        fields = checked.fields
        if not (fields.name and fields.vendor):
            return None
        return AccountSpec(
            fields.name,
            fields.vendor,
            fields.region,
            fields.base_url,
            fields.settings,
            fields.credentials,
            f"{self.filename}: {where}",
            team,
        )

    def credentials(self, where: str, value: Any) -> Any:
        """The file's credentials with `env:NAME` values read from the environment."""
        if not isinstance(value, dict):
            return value  # the account rules say what it must be
        resolved = dict(value)
        for key, raw in value.items():
            if isinstance(raw, str) and raw.startswith("env:"):
                var = raw[4:]
                if var not in self.environ:
                    unset = f"environment variable {shown(var)} is not set"
                    self.problem(where, f"field 'credentials.{shown(key)}': {unset}")
                    continue  # left as written: the set still looks complete, one message is enough
                resolved[key] = self.environ[var]
        return resolved

    def pipeline(self, i: int, entry: Any, vendors: dict[str, str]) -> list[PipelineSpec] | None:
        where = f"pipelines[{i}]"
        if not isinstance(entry, dict):
            self.problem(where, "must be a table")
            return None
        account = self._str(where, entry, "account")
        kind = self._str(where, entry, "kind")
        name = self._str(where, entry, "name", required=False)
        external_id = entry.get("external_id")
        label = external_id if isinstance(external_id, str) else name or kind
        where = f"pipelines[{i}] ({shown(account)}/{shown(label)})"
        self.unknown_keys(where, entry, PIPELINE_KEYS, "")
        vendor = vendors.get(account)
        if account and vendor is None:
            self.problem(where, f"field 'account': no account named {shown(account)!r} in this file or the database")
        cls = VENDORS.get(vendor or "")
        if cls and kind and kind not in cls.schema.kinds:
            self.problem(
                where,
                f"field 'kind': {shown(kind)!r} is not a {cls.label} kind (expected: {', '.join(cls.schema.kinds)})",
            )
        config = entry.get("config", {})
        if not isinstance(config, dict):
            self.problem(where, "field 'config': must be a table")
            config = {}
        elif not self._json(where, "config", config):
            config = {}
        one_shot = bool(cls and kind in cls.schema.one_shot_kinds)
        job_ids: list[str] = []
        if (jobs := entry.get("jobs")) is not None:
            if cls and not one_shot:
                self.problem(
                    where, f"field 'jobs': {shown(kind)!r} tracks one pipeline by external_id, not a list of jobs"
                )
            elif not isinstance(jobs, list) or not all(isinstance(j, str) and j.strip() for j in jobs):
                self.problem(where, "field 'jobs': must be a list of job id strings")
            elif any("\x00" in j for j in jobs):
                self.problem(where, "field 'jobs': a job id contains a NUL character")
            else:
                job_ids = [j.strip() for j in jobs]
        if one_shot and external_id is None:
            # A stream of one-shot jobs needs no vendor id: its name (or its kind) names it.
            external_id = name or kind
        if external_id is None:
            self.problem(where, "field 'external_id': required (the vendor's id)")
            return None
        if not isinstance(external_id, str) or not external_id.strip():
            self.problem(where, "field 'external_id': must be a non-empty string (the vendor's id)")
            return None
        if "\x00" in external_id:
            self.problem(where, "field 'external_id': contains a NUL character")
            return None
        team = self.team_ref(where, entry)
        empty_is_failure = entry.get("empty_day_is_failure", False)
        if not isinstance(empty_is_failure, bool):
            self.problem(where, "field 'empty_day_is_failure': must be true or false")
            empty_is_failure = False
        if not (account and kind):
            return None
        spec = PipelineSpec(account, kind, external_id.strip(), name, config, job_ids, f"{self.filename}: {where}")
        spec.team, spec.empty_day_is_failure = team, empty_is_failure
        return [spec]


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

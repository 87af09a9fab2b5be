"""Configuration as code: `apply_config FILE.toml` creates or updates accounts and pipelines.

The whole file is validated first; every problem is reported (file, entry, field) and a
file with any problem changes nothing. Applying is one transaction and idempotent;
nothing is deleted unless `prune` is asked for.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from vendors.registry import VENDORS

from . import audit
from .egress import base_url_problem
from .models import Account, Pipeline, Run
from .redaction import redact

ACCOUNT_KEYS = {"name", "vendor", "region", "base_url", "settings", "credentials"}
PIPELINE_KEYS = {"account", "kind", "external_id", "name", "jobs", "config"}


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


@dataclass
class PipelineSpec:
    account: str
    kind: str
    external_id: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)  # one-shot kinds: job ids to track


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


def load(path: str | Path, environ: dict[str, str] | None = None) -> tuple[list[AccountSpec], list[PipelineSpec]]:
    environ = dict(os.environ if environ is None else environ)
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return _Validator(str(path), environ).run(data)


class _Validator:
    def __init__(self, filename: str, environ: dict[str, str]) -> None:
        self.filename = filename
        self.environ = environ
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.filename}: {where}: {message}")

    def run(self, data: dict[str, Any]) -> tuple[list[AccountSpec], list[PipelineSpec]]:
        for key in sorted(set(data) - {"accounts", "pipelines"}):
            self.problem(key, "unknown top-level key (expected [[accounts]] and [[pipelines]])")
        accounts = [self.account(i, a) for i, a in enumerate(self._list(data, "accounts"))]
        accounts = [a for a in accounts if a is not None]
        seen: set[str] = set()
        for a in accounts:
            if a.name in seen:
                self.problem(f"accounts ({a.name})", "field 'name': duplicate account name")
            seen.add(a.name)
        vendors = {a.name: a.vendor for a in accounts}
        vendors.update({n: v for n, v in Account.objects.exclude(name__in=vendors).values_list("name", "vendor")})
        pipelines = [self.pipeline(i, p, vendors) for i, p in enumerate(self._list(data, "pipelines"))]
        flat = [spec for group in pipelines if group for spec in group]
        keys: set[tuple[str, str, str]] = set()
        for p in flat:
            key = (p.account, p.kind, p.external_id)
            if key in keys:
                self.problem(f"pipelines ({p.account}/{p.external_id})", "duplicate pipeline for this account and kind")
            keys.add(key)
        if self.problems:
            raise ConfigError(self.problems)
        return accounts, flat

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
        return value.strip()

    def account(self, i: int, entry: Any) -> AccountSpec | None:
        where = f"accounts[{i}]"
        if not isinstance(entry, dict):
            self.problem(where, "must be a table")
            return None
        name = self._str(where, entry, "name")
        where = f"accounts[{i}] ({name})" if name else where
        for key in sorted(set(entry) - ACCOUNT_KEYS):
            self.problem(where, f"field '{key}': unknown (expected one of {', '.join(sorted(ACCOUNT_KEYS))})")
        vendor = self._str(where, entry, "vendor")
        cls = VENDORS.get(vendor)
        if vendor and cls is None:
            self.problem(
                where, f"field 'vendor': unknown vendor {vendor!r} (expected one of {', '.join(sorted(VENDORS))})"
            )
        region = self._str(where, entry, "region", required=False)
        if cls and region and region not in cls.schema.regions:
            allowed = ", ".join(cls.schema.regions) or "none (this vendor has no regions)"
            self.problem(where, f"field 'region': {region!r} is not a {cls.label} region (expected: {allowed})")
        base_url = self._str(where, entry, "base_url", required=False)
        if base_url and (problem := base_url_problem(vendor, base_url)):
            self.problem(where, f"field 'base_url': {problem}")
        settings = entry.get("settings", {})
        if not isinstance(settings, dict):
            self.problem(where, "field 'settings': must be a table")
            settings = {}
        elif cls:
            for key, problem in cls.schema.settings_problems(settings).items():
                self.problem(where, f"field 'settings.{key}': {problem} for {cls.label}")
        credentials = self.credentials(where, entry.get("credentials", {}), cls)
        if not (name and vendor):
            return None
        return AccountSpec(name, vendor, region, base_url, settings, credentials)

    def credentials(self, where: str, value: Any, cls: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            self.problem(where, "field 'credentials': must be a table")
            return {}
        resolved: dict[str, str] = {}
        for key, raw in value.items():
            if not isinstance(raw, str):
                self.problem(where, f"field 'credentials.{key}': must be a string")
                continue
            if raw.startswith("env:"):
                var = raw[4:]
                if var not in self.environ:
                    self.problem(where, f"field 'credentials.{key}': environment variable {var} is not set")
                    continue
                raw = self.environ[var]
            resolved[key] = raw.strip()  # an env file's or a secret store's trailing newline is no part of it
        if cls and (problem := cls.schema.credentials_problem(resolved)):
            self.problem(where, f"field 'credentials': {cls.label} {problem}")
        return resolved

    def pipeline(self, i: int, entry: Any, vendors: dict[str, str]) -> list[PipelineSpec] | None:
        where = f"pipelines[{i}]"
        if not isinstance(entry, dict):
            self.problem(where, "must be a table")
            return None
        for key in sorted(set(entry) - PIPELINE_KEYS):
            self.problem(where, f"field '{key}': unknown (expected one of {', '.join(sorted(PIPELINE_KEYS))})")
        account = self._str(where, entry, "account")
        kind = self._str(where, entry, "kind")
        name = self._str(where, entry, "name", required=False)
        external_id = entry.get("external_id")
        jobs = entry.get("jobs")
        where = f"pipelines[{i}] ({account}/{external_id or name or kind})"
        vendor = vendors.get(account)
        if account and vendor is None:
            self.problem(where, f"field 'account': no account named {account!r} in this file or the database")
        cls = VENDORS.get(vendor or "")
        if cls and kind and kind not in cls.schema.kinds:
            self.problem(
                where, f"field 'kind': {kind!r} is not a {cls.label} kind (expected: {', '.join(cls.schema.kinds)})"
            )
        config = entry.get("config", {})
        if not isinstance(config, dict):
            self.problem(where, "field 'config': must be a table")
            config = {}
        one_shot = bool(cls and kind in cls.schema.one_shot_kinds)
        job_ids: list[str] = []
        if jobs is not None:
            if cls and not one_shot:
                self.problem(where, f"field 'jobs': {kind!r} tracks one pipeline by external_id, not a list of jobs")
            elif not isinstance(jobs, list) or not all(isinstance(j, str) and j.strip() for j in jobs):
                self.problem(where, "field 'jobs': must be a list of job id strings")
            else:
                job_ids = [j.strip() for j in jobs]
        if one_shot and external_id is None:
            # A stream of one-shot jobs needs no vendor id: its name (or its kind) names it.
            external_id = name or kind
        if not isinstance(external_id, str) or not external_id.strip():
            self.problem(where, "field 'external_id': required (the vendor's id)")
            return None
        if not (account and kind):
            return None
        return [PipelineSpec(account, kind, external_id.strip(), name, config, job_ids)]


def apply(
    accounts: list[AccountSpec],
    pipelines: list[PipelineSpec],
    *,
    prune: bool = False,
    actor_label: str = "apply_config",
) -> ApplyResult:
    result = ApplyResult()
    # Each account and pipeline it changes is audited by the model hooks, naming the command.
    with audit.acting_as(actor_label), transaction.atomic():
        by_name: dict[str, Account] = {}
        for spec in accounts:
            account = Account.objects.filter(name=spec.name).first()
            label = f"account {spec.name}"
            if account is None:
                account = Account(name=spec.name)
                _set_account(account, spec)
                account.save()
                result.created.append(label)
            elif _account_differs(account, spec):
                _set_account(account, spec)
                account.save()
                result.updated.append(label)
            else:
                result.unchanged.append(label)
            by_name[spec.name] = account
        for spec in pipelines:
            account = by_name.get(spec.account) or Account.objects.get(name=spec.account)
            label = f"pipeline {spec.account}/{spec.kind}/{spec.external_id}"
            pipeline = Pipeline.objects.filter(account=account, kind=spec.kind, external_id=spec.external_id).first()
            config = redact(spec.config)  # kept for people to read: no secrets
            if pipeline is None:
                pipeline = Pipeline.objects.create(
                    account=account,
                    kind=spec.kind,
                    external_id=spec.external_id,
                    name=spec.name,
                    config=config,
                    source="config",
                )
                result.created.append(label)
            elif pipeline.name != spec.name or pipeline.config != config:
                pipeline.name, pipeline.config = spec.name, config
                pipeline.save(update_fields=["name", "config"])
                result.updated.append(label)
            else:
                result.unchanged.append(label)
            for job_id in spec.jobs:
                if register_job(pipeline, job_id):
                    result.created.append(f"job {spec.account}/{spec.kind}/{job_id}")
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
                actor=actor_label,
                target_type="config",
                detail={"created": result.created, "updated": result.updated, "deleted": result.deleted},
            )
    return result


def register_job(pipeline: Pipeline, job_id: str) -> bool:
    """Track one vendor job as a run of a one-shot pipeline; False if already tracked."""
    from django.utils import timezone

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

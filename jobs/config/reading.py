"""Reading a configuration file: UTF-8, TOML, every key known at every depth, value types,
no NUL, the account rules; every problem is reported (file, entry, field) at once."""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any

from vendors.registry import VENDORS

from ..account_rules import AccountFields, check, shown
from ..models import Account, Team
from .specs import AccountSpec, ConfigError, PipelineSpec, TeamSpec

ACCOUNT_KEYS = {"name", "vendor", "region", "base_url", "settings", "credentials", "team"}
PIPELINE_KEYS = {"account", "kind", "external_id", "name", "jobs", "config", "team", "empty_day_is_failure"}
TEAM_KEYS = {"slug", "name"}


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

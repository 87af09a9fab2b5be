"""Configuration as code: `apply_config FILE.toml` creates or updates accounts and pipelines.

`run` is the one path of `apply_config`, with or without `--check`: the file is read and
checked (UTF-8, TOML, every key known at every depth, value types, no NUL), then applied
in one transaction in which every model instance is checked against its fields
(`full_clean`: lengths, choices, uniqueness) before it is saved; `--check` rolls that
transaction back. So a file `--check` passes is a file that applies. Every problem is
reported (file, entry, field) and a file with any problem changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from .applying import apply, apply_teams, register_job
from .reading import ACCOUNT_KEYS, PIPELINE_KEYS, TEAM_KEYS, load, load_all
from .specs import AccountSpec, ApplyResult, ConfigError, PipelineSpec, TeamSpec

__all__ = [
    "ACCOUNT_KEYS",
    "PIPELINE_KEYS",
    "TEAM_KEYS",
    "AccountSpec",
    "ApplyResult",
    "ConfigError",
    "PipelineSpec",
    "TeamSpec",
    "apply",
    "apply_teams",
    "load",
    "load_all",
    "register_job",
    "run",
]


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

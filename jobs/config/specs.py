"""What a configuration file holds, once read and checked, and what applying it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

"""One adapter per (vendor, kind): what the kind can do, how it is observed, how it is created.

The vendor client (client.py) is the account session: hosts, auth, HTTP, error envelope,
clock. An adapter holds that session and implements one kind's part of the contract;
ADR 0015 says why, docs/adding-a-vendor.md how.
"""

from __future__ import annotations

from datetime import UTC, date
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from .base import (
    CreateResult,
    FormField,
    InvalidSpec,
    NotFound,
    Observation,
    Rejected,
    Target,
    TargetResult,
    VendorError,
)
from .operations import Fact, Operation, clean_values

if TYPE_CHECKING:
    from .client import VendorClient

# What a kind can do besides being observed (the pages offer only these).
CREATE = "create"
CANCEL = "cancel"
PAUSE = "pause"  # pause/resume at the vendor (nessie)
RUN_NOW = "run_now"  # trigger a run now (warehouse manual-sync)
BACKFILL = "backfill"  # its create re-loads past periods (Statsig backfills)
DISCOVER = "discover"  # the vendor lists pipelines of this kind we did not configure
CAPABILITIES = frozenset({CREATE, CANCEL, PAUSE, RUN_NOW, BACKFILL, DISCOVER})


class Adapter:
    """One kind of one vendor. Subclasses set `kind`, `capabilities` and implement `observe`."""

    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    # Runs are one-shot jobs tracked by id (Target.open_runs); imports (vs exports); each
    # run is a period of data retried under its key (ADR 11).
    one_shot: ClassVar[bool] = False
    is_import: ClassVar[bool] = False
    periodic: ClassVar[bool] = False
    # Targets carry the keys of the pipeline's open runs (one-shot jobs to read by id; PostHog
    # reads back to its oldest open interval).
    asks_open_runs: ClassVar[bool] = False
    # Seconds between expected successes when neither the user nor the vendor says.
    cadence_seconds: ClassVar[int | None] = None
    # What else it can do (operations.py): retry a run, backfill a range, resync...
    operations: ClassVar[tuple[Operation, ...]] = ()

    def __init__(self, session: VendorClient) -> None:
        self.session = session

    def today(self) -> date:
        """Today in UTC by the session's clock (windows, create rules)."""
        return self.session.now().astimezone(UTC).date()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if unknown := cls.capabilities - CAPABILITIES:
            raise TypeError(f"{cls.__name__}: unknown capabilities {sorted(unknown)}")
        if missing := [op.name for op in cls.operations if not callable(getattr(cls, op.method, None))]:
            raise TypeError(f"{cls.__name__}: operations without a method: {missing}")

    # -- what the vendor says about a pipeline (its vendor_info, as the normalizer kept it) --
    @classmethod
    def facts(cls, info: dict[str, Any]) -> list[Fact]:
        """The facts the pipeline page shows under "At the vendor", in order."""
        return []

    @classmethod
    def cadence_from(cls, info: dict[str, Any]) -> int | None:
        """Seconds between expected successes by the vendor's own schedule (None: unknown)."""
        return None

    # -- reading -------------------------------------------------------------------
    def observe(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        """A result per target (observations, or the error that stopped it); with
        `discover`, also one per pipeline the vendor lists that is not in `targets`.
        An account-wide error ends the list: the session stops there."""
        raise NotImplementedError

    # -- acting (only what `capabilities` says) ----------------------------------------
    def create_fields(self, spec: dict[str, Any]) -> list[FormField]:
        """The inputs a create request takes, given what is chosen so far."""
        return []

    def describe_create(self, spec: dict[str, Any]) -> str:
        """What sending this spec would do ("1,200 rows read: 1 job"), for a preview."""
        return ""

    def validate_create(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Check a create request as the vendor would; return it cleaned or raise InvalidSpec."""
        raise InvalidSpec({"kind": f"{self.session.label} pipelines of kind {self.kind!r} cannot be created from here"})

    def create(self, spec: dict[str, Any]) -> CreateResult:
        raise InvalidSpec({"kind": f"{self.session.label} pipelines of kind {self.kind!r} cannot be created from here"})

    def cancel(self, target: Target, run_key: str = "") -> str:
        raise self.cannot("cancel")

    def pause(self, target: Target) -> str:
        raise self.cannot("pause")

    def resume(self, target: Target) -> str:
        raise self.cannot("resume")

    def run_now(self, target: Target) -> CreateResult:
        raise self.cannot("run")

    def perform(self, op: Operation, target: Target, run_key: str, values: dict[str, Any]) -> str:
        """Check the inputs as the vendor would, then do it; a message for the user."""
        cleaned = self.check_operation(op, clean_values(op.fields, values))
        message: str = getattr(self, op.method)(target, run_key, cleaned)
        return message

    def check_operation(self, op: Operation, values: dict[str, Any]) -> dict[str, Any]:
        """Rules across an operation's inputs (a range's end after its start); InvalidSpec."""
        return values

    def cannot(self, verb: str) -> Rejected:
        return Rejected(f"{self.session.label} cannot {verb} a {self.kind} from here")


class PerTarget(Adapter):
    """Kinds read one target at a time: `read` one; the loop and the stop are here."""

    def read(self, target: Target) -> TargetResult:
        raise NotImplementedError

    def discover(self, known: frozenset[str]) -> list[TargetResult]:
        """Every pipeline of this kind the vendor lists whose target key is not in `known`,
        with what a first look reads (DISCOVER); the known ones are read by `read`."""
        raise NotImplementedError

    def observe(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        results: list[TargetResult] = []
        for target in targets:
            try:
                results.append(self.read(target))
            except VendorError as exc:
                results.append(TargetResult(target, error=exc, http_status=exc.http_status))
                if exc.account_wide:
                    return results
        if discover and DISCOVER in self.capabilities:
            known = frozenset(t.key for t in targets)
            try:
                results.extend(r for r in self.discover(known) if r.target.key not in known)
            except VendorError as exc:
                if exc.account_wide:
                    results.append(TargetResult(Target("", ""), error=exc, http_status=exc.http_status))
        return results


class JobStream(PerTarget):
    """A pipeline that is a stream of one-shot jobs the vendor hands out ids for: each open
    job is read by id, and a 404 on one we know means the vendor forgot it (gone)."""

    one_shot = True
    asks_open_runs = True

    def job_url(self, target: Target, job_id: str) -> str:
        raise NotImplementedError

    def read_job(self, target: Target, body: Any, job_id: str) -> Observation:
        """The job's answer, normalized (and completed: FullStory's row errors)."""
        raise NotImplementedError

    def read(self, target: Target) -> TargetResult:
        result = TargetResult(target)
        for job_id in target.open_runs:
            try:
                body = self.session.call("GET", self.job_url(target, quote(job_id, safe="")))
            except NotFound:
                result.gone.append(job_id)
                continue
            result.observations.append(self.read_job(target, body, job_id))
        return result

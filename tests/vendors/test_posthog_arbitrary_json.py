"""Arbitrary JSON where PostHog's answers go: every normalizer and every observe function
(discovery, the check, a poll of an export or a table) gives results or a VendorError, never
anything else, which the poller would take for our bug and fail the whole account with.

The normalizers take each function's own fields (test_posthog_normalizer.py feeds them a
job's); the observe functions get the bodies over HTTP from the simulator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vendors.base import BadResponse, Target, VendorError
from vendors.http import HttpClient, HttpSettings
from vendors.posthog.normalize import RUN_STATES, export_info, table_info
from vendors.posthog.observe import (
    BATCH_EXPORT,
    WAREHOUSE_TABLE,
    check,
    discover_exports,
    discover_tables,
    observe_export,
    observe_table,
    table_id,
)
from vendors.posthog.session import PostHogSession, error_parser
from vendors.posthog.sim_exports import SimExport
from vendors.posthog.sim_tables import SimSchema, SimSource
from vendors.posthog.sim_world import SimProject
from vendors.posthog.simulator import PostHogWorld, SimKey
from vendors.simulator.core import Clock, Fault, SimServer, Simulator

from ..conftest import T0
from .test_mixpanel_normalizer import json_values

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
KEY, PROJECT = "phx_fuzz-key", 4242
ROOT = f"/api/projects/{PROJECT}"
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

EXPORT_KEYS = ["id", "name", "model", "destination", "interval", "paused", "last_paused_at", "latest_runs"]
TABLE_KEYS = ["id", "name", "status", "should_sync", "sync_type", "sync_frequency", "last_synced_at", "table"]
SOURCE_KEYS = ["id", "source_type", "status", "latest_error", "schemas"]


def shaped(keys: list[str], extra: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[Any]:
    """Dictionaries with these keys holding anything (or a few likely values), or any JSON."""
    values = {k: json_values for k in keys} | (extra or {})
    return st.fixed_dictionaries({}, optional=values) | json_values


def page(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A list page as PostHog answers it (one page: `next` is null), or any JSON."""
    return st.fixed_dictionaries({"results": st.lists(items, max_size=3), "next": st.none()}) | json_values


latest_runs = st.lists(shaped(["status"], {"status": st.sampled_from(sorted(RUN_STATES)) | json_values}), max_size=4)
exports = shaped(EXPORT_KEYS, {"latest_runs": latest_runs | json_values, "paused": st.booleans() | json_values})
tables = shaped(TABLE_KEYS, {"table": shaped(["row_count"])})
sources = shaped(SOURCE_KEYS, {"schemas": st.lists(tables, max_size=3) | json_values})


@FUZZ
@given(exports)
@example({"latest_runs": 5})  # found by this test: iterated as a list
@example({"latest_runs": [{"status": ["Failed"]}]})  # found by this test: a list as a dict key
def test_export_info_of_arbitrary_json(body: Any) -> None:
    with contextlib.suppress(BadResponse):
        export_info(body)


@FUZZ
@given(tables)
def test_table_info_of_arbitrary_json(body: Any) -> None:
    with contextlib.suppress(BadResponse):
        table_info(body)


@dataclass
class Fuzzed:
    simulator: Simulator
    session: PostHogSession
    export: Target
    table: Target

    def answer(self, path: str, body: Any) -> None:
        """PostHog answers `body` (200) to every request under `path`, and only that."""
        self.simulator.clear_faults()
        self.simulator.inject(Fault("wrong_shape", path=path, body=body))


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    born = T0 - timedelta(hours=3)
    project = SimProject(PROJECT)
    export = SimExport("Events to S3", "hour", {"type": "S3", "config": {}}, born)
    source = SimSource("Stripe", born)
    source.schemas = [SimSchema("charges", source.id, "1hour", born)]
    project.exports[export.id], project.sources[source.id] = export, source
    world = PostHogWorld(keys={KEY: SimKey({PROJECT})}, projects={PROJECT: project}, per_minute=10**6, per_hour=10**7)
    world.install(simulator)
    server = SimServer(simulator).start()
    session = PostHogSession(HttpClient(FAST, error_parser=error_parser), server.url, KEY, str(PROJECT))
    try:
        yield Fuzzed(
            simulator,
            session,
            Target(BATCH_EXPORT, export.id),
            Target(WAREHOUSE_TABLE, table_id(source.id, source.schemas[0].id)),
        )
    finally:
        server.stop()


def vendor_errors_only(call: Any) -> None:
    with contextlib.suppress(VendorError):
        call()


@FUZZ
@given(page(exports))
@example({"results": [{"id": "e", "latest_runs": 5}], "next": None})  # found by this test
def test_discovering_exports_from_arbitrary_json(fuzzed: Fuzzed, body: Any) -> None:
    fuzzed.answer(f"{ROOT}/batch_exports/", body)
    vendor_errors_only(lambda: discover_exports(fuzzed.session))


@FUZZ
@given(page(sources))
@example({"results": [{"id": "s", "schemas": 5}], "next": None})  # found by this test
def test_discovering_tables_and_the_check_from_arbitrary_json(fuzzed: Fuzzed, body: Any) -> None:
    fuzzed.answer(f"{ROOT}/external_data_sources/", body)
    vendor_errors_only(lambda: discover_tables(fuzzed.session))
    fuzzed.answer(f"{ROOT}/external_data_sources/", body)  # check asks the exports too: real ones
    vendor_errors_only(lambda: check(fuzzed.session))


@FUZZ
@given(page(shaped(["id", "status", "data_interval_start", "data_interval_end", "created_at", "records_completed"])))
def test_polling_an_export_whose_runs_are_arbitrary_json(fuzzed: Fuzzed, body: Any) -> None:
    fuzzed.answer(f"{ROOT}/batch_exports/{fuzzed.export.external_id}/runs", body)
    vendor_errors_only(lambda: observe_export(fuzzed.session, fuzzed.export, T0 - timedelta(days=1)))


@FUZZ
@given(
    tables, st.lists(shaped(["id", "status", "rows_synced", "latest_error", "created_at"]), max_size=3) | json_values
)
def test_polling_a_table_whose_answers_are_arbitrary_json(fuzzed: Fuzzed, schema: Any, jobs: Any) -> None:
    source_id, schema_id = fuzzed.table.external_id.split("/")
    fuzzed.answer(f"{ROOT}/external_data_schemas/{schema_id}", schema)
    vendor_errors_only(lambda: observe_table(fuzzed.session, fuzzed.table, T0 - timedelta(days=1)))
    fuzzed.answer(f"{ROOT}/external_data_sources/{source_id}/jobs", jobs)
    vendor_errors_only(lambda: observe_table(fuzzed.session, fuzzed.table, T0 - timedelta(days=1)))

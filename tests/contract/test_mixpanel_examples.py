"""Every example Mixpanel publishes, in its specs and in the seed, through our normalizers.

Each must be read without error and land in a state a person would call right: a seed
"success" is succeeded with its counts, the spec's failed run is failed with its error,
the jobs example names its pipeline, and so on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from vendors.base import Target
from vendors.mixpanel.client import error_parser
from vendors.mixpanel.nessie import read_create_answer
from vendors.mixpanel.nessie_normalize import normalize_jobs, normalize_status, normalize_summary, normalize_timeline
from vendors.mixpanel.nessie_seed import seed_canceled_task, seed_jobs_text, seed_sample, seed_summary_text
from vendors.mixpanel.normalize import normalize_history
from vendors.mixpanel.simulator import SEED_CONNECTORS
from vendors.seeds import readme_code_samples

from . import mixpanel_specs as specs

CONNECTOR = Target("import_connector", "123e4567-e89b-12d3-a456-426614174000")
PIPELINE = Target("export_pipeline", "company-july-2016-backfill-hourly-monoschema")


def spec_example(api: specs.ApiSpec, suffix: str) -> object:
    found = [value for where, value in api.examples() if where.endswith(suffix)]
    assert found, f"{api.name} publishes no example at …{suffix}"
    return found[0]


# -- legacy connectors: the seed's four samples and the spec's run ----------------------------
SEED_HISTORY = readme_code_samples("mixpanel-import-connector-history.txt")
SEED_EXPECTED = {
    "seed-queued": ("queued", 0.0, {}, None),
    "seed-running": ("running", 0.25, {}, None),
    "seed-success": ("succeeded", 1.0, {"processed": 13, "succeeded": 13, "files": 4, "bytes": 1610}, None),
    "seed-failed": ("failed", 0.0, {}, "config"),
}


@pytest.mark.parametrize("connector", SEED_CONNECTORS)
def test_the_seed_history_samples(connector: str) -> None:
    [obs] = normalize_history(CONNECTOR, json.loads(SEED_HISTORY[SEED_CONNECTORS[connector]]))
    state, progress, counts, error_kind = SEED_EXPECTED[connector]
    assert (obs.state, obs.progress) == (state, progress)
    assert {k: v for k, v in obs.counts.items() if v} == counts
    assert (obs.error.kind if obs.error else None) == error_kind
    if state == "queued":
        assert obs.started_at is None and obs.provisional_key
    else:
        assert obs.started_at == datetime(2020, 9, 16, 7, tzinfo=UTC)


def legacy_run(status: str) -> dict:
    """The legacy spec's `run`, assembled from its property examples, with one status of its enum."""
    schema = specs.LEGACY.spec / "components" / "schemas" / "run" / "properties"
    run = {name: (schema / name / "example").read_value() for name in schema.str_keys() if "example" in schema / name}
    return {**run, "status": status}


RUN_STATES = {"paused": ("queued", ("paused",)), "running": ("running", ()), "queued": ("queued", ())}
RUN_STATES |= {"failed": ("failed", ()), "success": ("succeeded", ())}


@pytest.mark.parametrize("status", RUN_STATES)
def test_the_legacy_spec_run_in_the_specs_own_envelope(status: str) -> None:
    enum = (specs.LEGACY.spec / "components" / "schemas" / "run" / "properties" / "status" / "enum").read_value()
    assert set(enum) == set(RUN_STATES)
    listing = specs.LEGACY.spec / "components" / "schemas" / "runsList" / "properties"
    body = {"url": (listing / "url")["example"], "has_more": False, "data": [legacy_run(status)]}
    [obs] = normalize_history(CONNECTOR, body)
    assert (obs.state, obs.flags, obs.vendor_status) == (*RUN_STATES[status], status)
    assert obs.started_at == datetime.fromtimestamp(1588056062, UTC) and obs.progress == 0.5
    assert obs.error.code == "invalid_permissions_gcs" and "GCS" in obs.error.message
    assert obs.error.kind == ("auth" if status == "failed" else "")


def test_the_legacy_spec_error_examples() -> None:
    for name in ("missing_parameter", "invalid_parameter"):
        example = spec_example(specs.LEGACY, f"/examples/{name}")
        code, message = error_parser(example)
        assert code in ("missing_required_property", "invalid_property") and "frequency" in message


# -- data pipelines: the spec's examples and the seed's -----------------------------------------
def test_the_jobs_examples() -> None:
    spec = spec_example(
        specs.DATA_PIPELINES, "/nessie/pipeline/jobs/get/responses/200/content/application/json/examples/example"
    )
    for body in (spec, json.loads(seed_jobs_text())):
        [job] = normalize_jobs(body, "9876543210")
        assert job == {
            "name": "events-daily-bigquery-monoschema",
            "frequency": "hourly",
            "sync_enabled": True,
            "last_dispatched": "2019-02-01T20:00:00+00:00",
            "dispatcher": "backfill",
        }


def test_the_timeline_example() -> None:
    body = spec_example(
        specs.DATA_PIPELINES, "/nessie/pipeline/timeline/get/responses/200/content/application/json/examples/example"
    )
    days = normalize_timeline(body)  # the second sync time has a leading space in the spec
    assert [(d["date"], d["status"], len(d["sync_times"])) for d in days] == [
        ("2019-08-19", "synced", 1),
        ("2019-08-20", "synced", 1),
    ]
    assert days[1]["sync_times"] == ["2019-08-20T21:33:09.315098+00:00"]


def test_the_create_examples() -> None:
    spec = spec_example(
        specs.DATA_PIPELINES, "/nessie/pipeline/create/post/responses/200/content/application/json/examples/example"
    )
    for body in (spec, json.loads(seed_sample("pipeline_names"))):
        result = read_create_answer(body)
        assert [t.external_id for t in result.targets] == [
            "trial-events-daily-bigquery-monoschema",
            "trial-people-daily-bigquery-monoschema",
        ]
        assert result.details["bigquery_dataset_name"].startswith("https://bigquery.cloud.google.com/dataset/")


def test_the_seed_status_examples() -> None:
    assert normalize_summary(json.loads(seed_summary_text())) == {"canceled": 933, "retried": 80, "succeeded": 1}
    [obs] = normalize_status(PIPELINE, {"canceled": [seed_canceled_task()]})
    assert (obs.state, obs.vendor_status, obs.finished_at) == ("canceled", "canceled", None)
    assert obs.run_key == "2016-07-26T00:00:00-07:00..2016-07-26T00:00:00-07:00"


def test_a_summary_in_the_shape_the_schema_gives_counts_its_tasks() -> None:
    """The spec has no schema for summary=true; its only status schema lists tasks per state."""
    task = seed_canceled_task()
    assert normalize_summary({"canceled": [task, task], "succeeded": [task]}) == {"canceled": 2, "succeeded": 1}

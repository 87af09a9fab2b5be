"""Creating data pipelines: one valid spec per type, each validation rule, secrets kept out."""

import json
from datetime import timedelta

import pytest
import requests

from vendors import base as vb
from vendors.base import AccountConfig, InvalidSpec, Target
from vendors.http import HttpSettings
from vendors.mixpanel.client import MixpanelClient
from vendors.mixpanel.nessie_seed import seed_sample
from vendors.mixpanel.nessie_spec import PIPELINE_TYPES, TYPE_FIELDS, to_form, validate_pipeline_spec

from ..conftest import T0
from .polling import poll_one

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
TODAY = T0.date()
FROM = (TODAY - timedelta(days=30)).isoformat()
SECRET = "hunter2-azure-SECRET"
SNOWFLAKE_PASSWORD = "hunter3-snow-SECRET"

# One valid create per type, as Mixpanel's current spec has them (spec/data-pipelines.openapi.yaml).
VALID = {
    "gcs-raw": {"gcs_bucket": "mp-export", "gcs_region": "us-central1", "gcs_prefix": "mixpanel/"},
    "s3-raw": {
        "s3_bucket": "example-s3-bucket",
        "s3_region": "me-south-1",  # raw S3 exports only
        "s3_role": "arn:aws:iam::123456789012:role/example-s3-role",
        "s3_encryption": "kms",
        "s3_kms_key_id": "key-1",
        "frequency": "hourly",
    },
    "azure-raw": {
        "storage_account": "mystorageaccount",
        "container_name": "mixpanel-export",
        "prefix": "custom_prefix/for/data",
        "client_id": "cid",
        "client_secret": SECRET,
        "tenant_id": "tid",
    },
    "bigquery": {
        "bq_region": "US_EAST_4",
        "gcp_project": "acme-analytics",
        "bq_dataset_name": "mixpanel",
        "bq_prefix": "mp_",
        "schema_type": "multischema",
        "sync": True,
    },
    "snowflake": {
        "snowflake_account_name": "myorg-myaccount",
        "snowflake_warehouse": "LOAD_WH",
        "snowflake_storage_integration": "MP_GCS",
        "snowflake_user": "MIXPANEL",
        "snowflake_password": SNOWFLAKE_PASSWORD,
        "snowflake_role": "LOADER",
        "snowflake_database": "ANALYTICS",
        "snowflake_schema": "MIXPANEL",
        "schema_type": "monoschema",
        "sync": "true",
    },
    "aws": {
        "s3_bucket": "example-s3-bucket",
        "s3_region": "eu-west-1",
        "s3_role": "arn:aws:iam::123456789012:role/example-s3-role",
        "s3_prefix": "example_custom_prefix",
        "use_glue": True,
        "glue_database": "example-glue-db",
        "glue_role": "arn:aws:iam::123456789012:role/example-glue-role",
        "glue_table_prefix": "example_table_prefix",
        "data_format": "parquet",
        "to_date": (TODAY - timedelta(days=2)).isoformat(),
        "schema_type": "monoschema",
        "sync": True,
    },
    "azure-blob": {
        "storage_account": "mystorageaccount",
        "container_name": "mixpanel-export",
        "client_id": "cid",
        "client_secret": SECRET,
        "tenant_id": "tid",
        "data_format": "parquet",
        "schema_type": "multischema",
        "sync": True,
    },
    "gcs-schema": {
        "gcs_bucket": "mp-export",
        "gcs_region": "europe-west3",
        "data_source": "people",
        "schema_type": "monoschema",
        "sync": True,
    },
}


def spec(kind: str, **changes) -> dict:
    base = {"type": kind, "from_date": FROM, "events": ["Page View", "Item Purchase"], **VALID[kind]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def client(sim) -> MixpanelClient:
    account = AccountConfig(
        "mixpanel", "t", {"project_id": "12345"}, {"username": "svc", "secret": "s3cret"}, base_url=sim.url
    )
    c = MixpanelClient(account, FAST)
    c.now = sim.clock.now  # "today" is the simulator's
    return c


def post_create(sim, fields: dict) -> requests.Response:
    form = [*to_form(fields), ("project_id", "12345")]
    return requests.post(sim.url + "/api/2.0/nessie/pipeline/create", data=form, auth=("svc", "s3cret"), timeout=5)


def test_every_type_has_a_valid_example() -> None:
    assert set(VALID) == set(PIPELINE_TYPES) == set(TYPE_FIELDS)


@pytest.mark.parametrize("kind", VALID)
def test_create_every_type(sim, kind: str) -> None:
    c = client(sim)
    result = c.create("export_pipeline", spec(kind))
    names = result.details["pipeline_names"]
    assert len(names) == 1 and kind in names[0]
    assert result.targets == [Target("export_pipeline", names[0])]
    assert names[0] in result.message
    assert set(sim.mixpanel.projects["12345"].pipelines) == set(names)
    assert ("bigquery_dataset_name" in result.details) == (kind == "bigquery")
    assert SECRET not in repr(result) and SNOWFLAKE_PASSWORD not in repr(result)
    polled = poll_one(c, result.targets[0])  # the new pipeline answers status at once
    assert polled.observations and polled.info["summary"]


def test_create_sends_every_field_the_vendor_needs(sim) -> None:
    c = client(sim)
    c.create("export_pipeline", spec("aws"))
    method, path = sim.simulator.request_log[-1]
    assert (method, path) == ("POST", "/api/2.0/nessie/pipeline/create")
    form = to_form(c.validate_create("export_pipeline", spec("aws")))
    assert ("events", "Page View") in form and ("events", "Item Purchase") in form
    assert ("use_glue", "true") in form


def test_a_trial_bigquery_create_answers_like_the_seed(sim) -> None:
    trial = {
        "type": "bigquery",
        "trial": "true",
        "bq_region": "US_EAST_4",
        "gcp_project": "mixpanel-prod-1",
        "bq_dataset_name": "sample_dataset_name",
        "schema_type": "monoschema",
        "sync": "true",
        "events": ["Page View", "Item Purchase"],
    }
    c = client(sim)
    assert c.validate_create("export_pipeline", trial)["from_date"] == (TODAY - timedelta(days=1)).isoformat()
    result = c.create("export_pipeline", trial)
    seed = json.loads(seed_sample("pipeline_names"))
    assert result.raw == seed
    assert result.details == seed
    assert [t.external_id for t in result.targets] == seed["pipeline_names"]
    assert seed["bigquery_dataset_name"] in result.message


def test_the_simulator_still_accepts_the_seeds_own_trial_request(sim) -> None:
    """The seed's curl example: a project secret, Mixpanel-hosted BigQuery shared with a
    group, no from_date, sync or schema_type. The client no longer sends it; the simulator
    accepts it, as it accepts whatever the seed or the current spec describes."""
    sim.mixpanel.projects["12345"].api_secret = "API_SECRET"
    form = [
        ("type", "bigquery"),
        ("bq_region", "US_EAST_4"),
        ("trial", "true"),
        ("bq_share_with_group", "bq-access-alias@somecompany.com"),
        ("events", "Page View"),
        ("events", "Item Purchase"),
    ]
    resp = requests.post(sim.url + "/api/2.0/nessie/pipeline/create", data=form, auth=("API_SECRET", ""), timeout=5)
    assert resp.status_code == 200
    assert resp.json()["pipeline_names"] == json.loads(seed_sample("pipeline_names"))["pipeline_names"]


# (what to change, the field that must be named)
RULES = [
    ({"from_date": "2026/10/01"}, "from_date", "bigquery"),
    ({"from_date": (TODAY + timedelta(days=1)).isoformat()}, "from_date", "bigquery"),
    ({"from_date": (TODAY - timedelta(days=200)).isoformat()}, "from_date", "bigquery"),
    ({"from_date": None}, "from_date", "gcs-raw"),
    ({"to_date": "2026-02-30"}, "to_date", "gcs-raw"),
    ({"to_date": (TODAY - timedelta(days=40)).isoformat()}, "to_date", "gcs-raw"),
    ({"to_date": FROM, "frequency": "hourly"}, "frequency", "gcs-raw"),
    ({"frequency": "weekly"}, "frequency", "gcs-raw"),
    ({"s3_region": "mars-north-1"}, "s3_region", "s3-raw"),
    ({"s3_region": "me-south-1"}, "s3_region", "aws"),  # raw S3 only
    ({"bq_region": "MOON_1"}, "bq_region", "bigquery"),
    ({"gcs_region": "us-moon1"}, "gcs_region", "gcs-schema"),
    ({"glue_database": None}, "glue_database", "aws"),
    ({"glue_role": None}, "glue_role", "aws"),
    ({"s3_encryption": "aes"}, "s3_kms_key_id", "s3-raw"),
    ({"data_source": "people", "where": 'properties["plan"] == "pro"'}, "where", "bigquery"),
    ({"data_source": "people"}, "data_source", "s3-raw"),
    ({"data_format": "parquet"}, "data_format", "gcs-raw"),
    ({"data_format": "json"}, "data_format", "bigquery"),  # not a field of schematized BigQuery
    ({"bq_prefix": "mp-export!"}, "bq_prefix", "bigquery"),
    ({"schema_type": "mono"}, "schema_type", "bigquery"),
    ({"schema_type": None}, "schema_type", "aws"),
    ({"sync": False}, "sync", "bigquery"),  # the spec's enum is [true]
    ({"sync": None}, "sync", "gcs-schema"),
    ({"data_source": "people"}, "schema_type", "azure-blob"),
    ({"trial": "maybe"}, "trial", "gcs-raw"),
    ({"gcs_bucket": None}, "gcs_bucket", "gcs-raw"),
    ({"tenant_id": "  "}, "tenant_id", "azure-blob"),
    ({"s3_bucket": "x"}, "s3_bucket", "gcs-raw"),
    ({"use_glue": True, "glue_database": "db", "glue_role": "r"}, "use_glue", "s3-raw"),  # Glue: aws only
    ({"region": "us-west-aws"}, "region", "snowflake"),  # the seed's Mixpanel-hosted Snowflake
    ({"snowflake_password": None}, "snowflake_password", "snowflake"),
    ({"type": "redshift"}, "type", "gcs-raw"),
]


@pytest.mark.parametrize(("changes", "field", "kind"), RULES, ids=[f"{r[2]}-{r[1]}-{i}" for i, r in enumerate(RULES)])
def test_each_rule_names_its_field_in_the_client_and_the_simulator(sim, changes, field, kind) -> None:
    bad = spec(kind, **changes)
    with pytest.raises(InvalidSpec) as caught:
        client(sim).validate_create("export_pipeline", bad)
    assert field in caught.value.errors
    resp = post_create(sim, bad)
    assert resp.status_code == 400
    body = resp.json()
    assert body["status"] == "error" and f"{field}:" in body["error"]
    assert sim.mixpanel.projects["12345"].pipelines == {}


def test_the_valid_examples_pass_and_come_back_cleaned_before_each_rule_breaks_them() -> None:
    for kind in VALID:
        assert validate_pipeline_spec(spec(kind), TODAY) == spec(kind, sync=True if "sync" in VALID[kind] else None)
    # Form strings come back typed; empties and the project id (sent apart) are dropped.
    as_form = {**spec("snowflake"), "sync": "true", "project_id": "12345"}
    cleaned = validate_pipeline_spec(as_form, TODAY)
    assert cleaned["sync"] is True and "project_id" not in cleaned
    assert cleaned == spec("snowflake", sync=True)
    assert validate_pipeline_spec(spec("gcs-raw", gcs_prefix=""), TODAY) == spec("gcs-raw", gcs_prefix=None)


def test_create_checks_before_calling_and_reports_every_problem_at_once(sim) -> None:
    bad = spec("aws", s3_region="mars-1", glue_role=None, from_date="yesterday", bq_prefix="x")
    with pytest.raises(InvalidSpec) as caught:
        client(sim).create("export_pipeline", bad)
    assert set(caught.value.errors) == {"s3_region", "glue_role", "from_date", "bq_prefix"}
    assert not any(path.endswith("/create") for _, path in sim.simulator.request_log)


def test_a_trial_needs_no_from_date_and_six_months_is_the_limit() -> None:
    trial = validate_pipeline_spec({"type": "gcs-schema", "trial": True, **VALID["gcs-schema"]}, TODAY)
    assert trial["from_date"] == (TODAY - timedelta(days=1)).isoformat()  # the spec's default, sent
    six_months = validate_pipeline_spec(spec("gcs-schema", from_date="2026-05-20"), TODAY)
    assert six_months["from_date"] == "2026-05-20"
    with pytest.raises(InvalidSpec):
        validate_pipeline_spec(spec("gcs-schema", from_date="2026-05-19"), TODAY)


def test_secrets_never_appear_in_errors(sim) -> None:
    bad = spec("azure-blob", client_secret=["not", "a", "string", SECRET], tenant_id=None, container_name=SECRET)
    bad["snowflake_password"] = SNOWFLAKE_PASSWORD  # not a field of azure-blob
    with pytest.raises(InvalidSpec) as caught:
        client(sim).validate_create("export_pipeline", bad)
    text = str(caught.value) + json.dumps(caught.value.errors)
    assert {"client_secret", "tenant_id", "snowflake_password"} <= set(caught.value.errors)
    assert SECRET not in text and SNOWFLAKE_PASSWORD not in text
    resp = post_create(sim, spec("azure-raw", tenant_id=None))
    assert resp.status_code == 400 and "tenant_id" in resp.text and SECRET not in resp.text


def test_vendor_refusals_propagate_as_rejected(sim) -> None:
    c = client(sim)
    trial = {"type": "gcs-schema", "trial": True, **VALID["gcs-schema"]}
    c.create("export_pipeline", trial)
    with pytest.raises(vb.Rejected, match="trial") as caught:
        c.create("export_pipeline", {**trial, "gcs_bucket": "another"})
    assert caught.value.http_status == 400
    c.create("export_pipeline", spec("gcs-raw"))
    c.create("export_pipeline", spec("s3-raw"))
    with pytest.raises(vb.Rejected, match="at most 2 recurring"):
        c.create("export_pipeline", spec("bigquery"))


def test_other_kinds_cannot_be_created(sim) -> None:
    for kind in ("import_connector", "warehouse_import"):
        with pytest.raises(InvalidSpec) as caught:
            client(sim).validate_create(kind, {})
        assert "kind" in caught.value.errors


# AWS's own naming rules, checked before the call (Mixpanel would accept the spec and fail
# at the first export): the simulator keeps Mixpanel's looser checks, so the client alone.
AWS_NAMES = [
    ({"s3_bucket": "My_Bucket"}, "s3_bucket", "s3-raw", "lowercase"),
    ({"s3_bucket": "192.168.1.10"}, "s3_bucket", "aws", "IP address"),
    ({"s3_bucket": "a..b"}, "s3_bucket", "s3-raw", "two dots"),
    ({"s3_role": "example-s3-role"}, "s3_role", "s3-raw", "IAM role ARN"),
    ({"s3_role": "arn:aws:iam::12345:role/r"}, "s3_role", "aws", "12-digit"),
    ({"glue_role": "arn:aws:iam::123456789012:user/u"}, "glue_role", "aws", "role ARN"),
]


@pytest.mark.parametrize(("changes", "field", "kind", "says"), AWS_NAMES)
def test_aws_names_are_checked_before_the_call(sim, changes, field, kind, says) -> None:
    with pytest.raises(InvalidSpec) as caught:
        client(sim).validate_create("export_pipeline", spec(kind, **changes))
    assert set(caught.value.errors) == {field} and says in caught.value.errors[field]

"""The create form and its rules, field by field against Mixpanel's request schemas.

Everything here is read from vendors/mixpanel/spec/data-pipelines.openapi.yaml: the types
(the discriminator's mapping), each type's properties, required list, enums, defaults and
date formats. A newer spec that adds, drops or changes any of them fails a case below.
The few places where we knowingly depart from the schema's letter are listed with the
spec text that justifies them.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from dashboard.forms import AccountForm
from vendors.base import AccountConfig, FormField, InvalidSpec
from vendors.mixpanel.client import MixpanelClient
from vendors.mixpanel.nessie import NESSIE_HOSTS

from ..conftest import T0
from . import mixpanel_specs as specs
from .mixpanel_specs import example_spec, invalid_variants, props, required, wire
from .openapi_recorder import Recorder

TODAY = T0.date()
SCHEMAS = specs.CREATE_SCHEMAS

# Departures from the schema's letter, each backed by the spec's own words.
REQUIRED_UNLESS_TRIAL = {
    "from_date": "'If trial is set to true this will default to the previous day; otherwise, it is a "
    "required parameter' (every type): the form asks for it unless trial is on, the client then sends "
    "the previous day, so the request still carries it"
}
REPEATED = {
    "events": "typed string, but 'for multiple events, you will need to pass in each event name as "
    "separate events parameters': a list in the form, one form field per event on the wire"
}
CLIENT_FIELDS = {"project_id": "the account's setting, sent by the client on every request"}


def form(kind: str) -> dict[str, FormField]:
    account = AccountConfig("mixpanel", "t", {"project_id": "12345"}, {"username": "u", "secret": "s"})
    return {f.name: f for f in MixpanelClient(account).create_fields("export_pipeline", {"type": kind})}


# -- the form, field by field ---------------------------------------------------------------
FIELD_CASES = [(kind, name) for kind in SCHEMAS for name in sorted(props(kind)) if name not in CLIENT_FIELDS]


def test_the_form_offers_exactly_the_spec_types() -> None:
    [type_field] = [f for f in form("").values() if f.name == "type"]
    assert set(type_field.choices) == set(SCHEMAS)


@pytest.mark.parametrize("kind", SCHEMAS)
def test_the_form_offers_no_field_the_spec_lacks(kind: str) -> None:
    assert set(form(kind)) - set(props(kind)) == set()


@pytest.mark.parametrize(("kind", "name"), FIELD_CASES, ids=[f"{k}-{n}" for k, n in FIELD_CASES])
def test_each_form_field_follows_its_schema(kind: str, name: str) -> None:
    prop = props(kind)[name]
    fields = form(kind)
    assert name in fields, f"the {kind} form does not offer {name}"
    field = fields[name]
    if name == "type":  # the discriminator: its value picks this schema
        assert field.type == "choice" and kind in field.choices and field.required
        return
    if name in REQUIRED_UNLESS_TRIAL:
        assert name in required(kind) and not field.required and "trial" in field.help
    else:
        assert field.required == (name in required(kind))
    if "enum" in prop:
        assert field.type == "choice" and list(field.choices) == [wire(v) for v in prop["enum"]]
    elif prop.get("format") == "date":
        assert field.type == "date"
    elif prop.get("type") == "boolean":
        assert field.type == "bool"
    elif name in REPEATED:
        assert field.type == "list"
    else:
        assert prop.get("type") == "string" and field.type in ("text", "secret")
    if field.required and "default" in prop:
        assert field.initial == wire(prop["default"])


# -- the client's validator and the simulator against the schema ------------------------------
def client() -> MixpanelClient:
    account = AccountConfig("mixpanel", "t", {"project_id": "12345"}, {"username": "svc", "secret": "s3cret"})
    c = MixpanelClient(account)
    c.now = lambda: T0
    return c


@pytest.mark.parametrize("kind", SCHEMAS)
def test_the_smallest_valid_request_passes_the_client_and_the_spec(kind: str) -> None:
    cleaned = client().validate_create("export_pipeline", example_spec(kind, TODAY))
    assert set(cleaned) >= required(kind) - {"project_id"}


VARIANTS = [(kind, field, bad) for kind in SCHEMAS for field, bad in invalid_variants(kind, TODAY)]


@pytest.mark.parametrize(
    ("kind", "field", "bad"), VARIANTS, ids=[f"{k}-{f}-{i}" for i, (k, f, _) in enumerate(VARIANTS)]
)
def test_the_client_refuses_what_the_schema_refuses(kind: str, field: str, bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec) as caught:
        client().validate_create("export_pipeline", bad)
    assert field in caught.value.errors


@pytest.mark.parametrize("kind", SCHEMAS)
def test_the_client_refuses_fields_of_other_types(kind: str) -> None:
    foreign = sorted({n for k in SCHEMAS for n in props(k)} - set(props(kind)))
    assert foreign, "every type shares all fields? then this test needs a new idea"
    for name in foreign:
        with pytest.raises(InvalidSpec) as caught:
            client().validate_create("export_pipeline", {**example_spec(kind, TODAY), name: "x"})
        assert name in caught.value.errors


def test_the_simulator_judges_creates_by_the_spec_on_its_own(sim) -> None:
    """Each schema-derived variant: the simulator answers 400 naming the field, and
    openapi-core refuses the same request; the valid ones pass both."""
    recorder = Recorder(sim.simulator)
    url = sim.url + "/api/2.0/nessie/pipeline/create"
    for kind in SCHEMAS:
        sim.mixpanel.projects["12345"].pipelines.clear()
        for field, bad in [("", example_spec(kind, TODAY)), *invalid_variants(kind, TODAY)]:
            data = [(k, wire(v)) for k, v in {**bad, "project_id": "12345"}.items()]
            resp = requests.post(url, data=data, auth=("svc", "s3cret"), timeout=5)
            [exchange] = recorder.take()
            core = specs.DATA_PIPELINES.request_problems(exchange, strict=False)
            if not field:
                assert (resp.status_code, core) == (200, []), (kind, resp.text)
                sim.mixpanel.projects["12345"].pipelines.clear()
            else:
                assert resp.status_code == 400 and field in resp.json()["error"], (kind, field, resp.text)
                assert core, (kind, field, "openapi-core accepts what the simulator refused")


def test_the_simulator_imports_nothing_from_the_client() -> None:
    import ast
    from pathlib import Path

    import vendors.mixpanel

    package = Path(vendors.mixpanel.__file__).parent
    client_modules = {
        "client",
        "session",
        "connectors",
        "nessie",
        "nessie_spec",
        "nessie_normalize",
        "normalize",
        "warehouse",
    }
    for name in (
        "simulator.py",
        "nessie_simulator.py",
        "nessie_sim_pipeline.py",
        "warehouse_simulator.py",
        "nessie_seed.py",
    ):
        tree = ast.parse((package / name).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported.add((node.module or "").split(".")[0])
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vendors.mixpanel."):
                imported.add(node.module.split(".")[2])
        assert imported & client_modules == set(), name


# -- hosts and the account's settings ---------------------------------------------------------
def _server_hosts(api: specs.ApiSpec) -> set[str]:
    server = api.spec / "servers" / 0
    url, variables = server["url"], (server / "variables").read_value()
    [(var, spec)] = variables.items()
    return {"https://" + url.split("//")[1].split("/")[0].replace("{" + var + "}", v) for v in spec["enum"]}


def test_every_region_uses_a_server_the_specs_list() -> None:
    assert set(NESSIE_HOSTS.values()) == _server_hosts(specs.DATA_PIPELINES)
    assert set(MixpanelClient.hosts.values()) == _server_hosts(specs.WAREHOUSE) == _server_hosts(specs.LEGACY)
    assert set(MixpanelClient.schema.regions) == set(NESSIE_HOSTS) == set(MixpanelClient.hosts)


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "ok"), [("12345", True), ("p0", False), ("12 345", False), ("-1", False)])
def test_the_project_id_is_an_integer_as_every_path_and_query_says(value: str, ok: bool) -> None:
    path_param = specs.WAREHOUSE.spec / "paths" / "/projects/{projectId}/warehouse-sources/imports" / "get"
    [param] = [p for p in path_param / "parameters" if p["name"] == "projectId"]
    assert param["schema"]["type"] == "integer"
    data = {"name": "mp", "vendor": "mixpanel", "setting_project_id": value, "secret_api_secret": "x"}
    account_form = AccountForm(data)
    assert account_form.is_valid() == ok, account_form.errors
    if not ok:
        assert "setting_project_id" in account_form.errors

"""The schema is served from the code, committed for review, and browsable offline."""

import json
from pathlib import Path

from django.contrib.staticfiles import finders

from dashboard.management.commands.api_schema import DEFAULT, schema_text

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"


def test_the_served_schema_is_the_committed_one(logged_in) -> None:
    """Fails when the API changes without `make api-schema`: the diff is seen in review."""
    response = logged_in.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    served = response.json()
    assert COMMITTED == DEFAULT
    assert served == json.loads(COMMITTED.read_text()), "the API changed: run `make api-schema` and commit the file"
    assert schema_text() == COMMITTED.read_text()


def test_the_schema_describes_every_route(logged_in) -> None:
    schema = logged_in.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"].items()
    operations = {op["operationId"]: (method, path) for path, ops in paths for method, op in ops.items()}
    assert operations == {
        "list_pipelines": ("get", "/api/v1/pipelines/"),
        "get_pipeline": ("get", "/api/v1/pipelines/{pipeline_uuid}/"),
        "update_pipeline": ("patch", "/api/v1/pipelines/{pipeline_uuid}/"),
        "list_pipeline_runs": ("get", "/api/v1/pipelines/{pipeline_uuid}/runs/"),
        "export_pipeline_runs": ("get", "/api/v1/pipelines/{pipeline_uuid}/runs/export/"),
        "export_runs": ("get", "/api/v1/runs/export/"),
        "register_run": ("post", "/api/v1/pipelines/{pipeline_uuid}/runs/"),
        "create_pipeline": ("post", "/api/v1/pipelines/new/"),
        "act_on_pipeline": ("post", "/api/v1/pipelines/{pipeline_uuid}/actions/{action}/"),
        "operate_on_pipeline": ("post", "/api/v1/pipelines/{pipeline_uuid}/operations/{name}/"),
        "list_failures": ("get", "/api/v1/failures/"),
        "acknowledge_failure": ("post", "/api/v1/failures/{incident_id}/ack/"),
        "create_account": ("post", "/api/v1/accounts/"),
    }
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "session"}
    for ops in schema["paths"].values():
        for op in ops.values():
            for status, answer in op["responses"].items():
                if int(status) >= 400:  # every refusal documented in the one envelope
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_schema_needs_credentials_like_the_rest_of_the_api(api_client, db) -> None:
    response = api_client.get("/api/v1/openapi.json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_the_docs_page_loads_swagger_ui_from_this_server(logged_in) -> None:
    response = logged_in.get("/api/v1/docs")
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in html and "/static/ninja/swagger-ui.css" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert '"url": "/api/v1/openapi.json"' in html
    for asset in ("ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js", "ninja/swagger-ui.css"):
        assert finders.find(asset), asset  # shipped inside the pinned django-ninja wheel

"""Write the API's OpenAPI schema as served at /api/v1/openapi.json (`make api-schema`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from dashboard.apiv1.app import api

DEFAULT = Path(__file__).resolve().parents[3] / "docs" / "api" / "openapi.json"


def schema_text() -> str:
    """Stable text: the committed file changes only when the API does."""
    return json.dumps(api.get_openapi_schema(), indent=2, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Write the OpenAPI schema of /api/v1/ to docs/api/openapi.json (or --output)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", default=str(DEFAULT))

    def handle(self, *args: Any, output: str, **options: Any) -> None:
        Path(output).write_text(schema_text())
        self.stdout.write(f"wrote {output}")

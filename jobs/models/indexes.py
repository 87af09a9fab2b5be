"""Index classes the models need beyond Django's own."""

from __future__ import annotations

import re
from typing import Any

from django.db import models


class NullsIndex(models.Index):
    """An index whose NULLS FIRST / NULLS LAST PostgreSQL needs to serve an ORDER BY. SQLite
    takes no such clause in an index; there NULL sorts lowest, which is already the order
    asked for by each use here (ascending nulls first, descending nulls last)."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        statement = super().create_sql(model, schema_editor, using=using, **kwargs)
        if schema_editor.connection.vendor == "sqlite" and "columns" in statement.parts:
            statement.parts["columns"] = _WithoutNulls(statement.parts["columns"])
        return statement

    def deconstruct(self) -> Any:
        path, args, kwargs = super().deconstruct()
        # Migrations name it by its public home, as before jobs.models became a package.
        return path.replace("jobs.models.indexes.", "jobs.models."), args, kwargs


class _WithoutNulls:
    """A part of a CREATE INDEX statement, less its NULLS clauses (table renames still reach it)."""

    def __init__(self, part: Any) -> None:
        self.part = part

    def __getattr__(self, name: str) -> Any:
        return getattr(self.part, name)

    def __str__(self) -> str:
        return re.sub(r" NULLS (FIRST|LAST)", "", str(self.part))

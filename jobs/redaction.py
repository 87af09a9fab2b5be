"""What viewers may see of structured data (audit details, stored specs): `redact`."""

from __future__ import annotations

from typing import Any

from .scrubbing import REDACTED, is_secret_key, scrub_known


def redact(value: Any) -> Any:
    """`value` with whatever sits under a secret-looking key (client_secret, sas_key,
    password, api_key, ...) replaced by REDACTED at any depth, and every other string
    scrubbed of the credentials this process knows. Whether a secret is set (True, None,
    "") is kept: it says nothing about the secret. Safe to apply twice."""
    if isinstance(value, dict):
        return {k: _hidden(v) if isinstance(k, str) and is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub_known(value)
    return value


def _hidden(value: Any) -> Any:
    return value if value is None or isinstance(value, bool) or value == "" else REDACTED

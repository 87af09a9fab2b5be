"""Every route of the URL configuration, with its path parameters filled from real objects,
asked by every persona: the machinery of test_roles.py's matrix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from dashboard.auth import issue_token
from jobs.failures import incidents
from jobs.models import (
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    ApiToken,
    Heartbeat,
    MaintenanceWindow,
    Pipeline,
    Run,
    Team,
    Upload,
)

from ..conftest import user_with_role

PERSONAS = ("anonymous", "no_role", "viewer", "operator", "admin")
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    key: str  # the URL name (namespaced), or the pattern for an unnamed route
    pattern: str  # the full pattern, e.g. "pipelines/<uuid:pipeline_uuid>/"
    params: tuple[str, ...]  # the path parameters, in order


def routes() -> list[Route]:
    """Every route Django would resolve, read from the URL configuration itself."""

    def walk(patterns: list, prefix: str, namespace: str, params: tuple[str, ...]) -> Iterator[Route]:
        for p in patterns:
            own = params + tuple(p.pattern.regex.groupindex)
            if isinstance(p, URLResolver):
                inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
                yield from walk(p.url_patterns, prefix + str(p.pattern), inner, own)
            elif isinstance(p, URLPattern):
                pattern = prefix + str(p.pattern)
                yield Route(f"{namespace}{p.name}" if p.name else pattern, pattern, own)

    return list(walk(get_resolver().url_patterns, "", "", ()))


def make_world(polled: dict[str, Pipeline], mp_account: Any) -> dict[str, Any]:
    """One real object behind every path parameter, so each view gets as far as its role check."""
    admin_user = user_with_role("boss", "admin")
    resetting = user_with_role("forgetful", "viewer")  # never signs in here, so its reset link stays valid
    pipeline = polled["seed-failed"]
    channel = AlertChannel(name="hook")
    channel.url = "json://hooks.example.com/x"
    channel.save()
    event = AlertEvent.objects.create(pipeline=pipeline, kind="failed", title="t", message="m")
    AlertDelivery.objects.create(event=event, channel=channel)
    now = timezone.now()
    issue_token(admin_user)
    seen = {"user_agent": "ua", "ip_address": "192.0.2.1", "username": "eve", "http_accept": "*/*", "path_info": "/"}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**seen)
    AccessLog.objects.create(**seen)
    Heartbeat.objects.create(name="beat", at=now)  # /healthz: the scheduler ticks
    Team.objects.create(slug="data", name="Data")
    MaintenanceWindow.objects.create(starts_at=now, ends_at=now + timedelta(hours=1), reason="r")
    upload = Upload.objects.create(account=mp_account, kind="events_import", field="rows", filename="e", size=1)
    [incident, *_] = incidents()
    return {
        "admin_user": admin_user,
        "pipeline_uuid": pipeline.uuid,
        "run_uuid": Run.objects.filter(pipeline=pipeline).get().uuid,
        "account_uuid": mp_account.uuid,
        "upload_uuid": upload.uuid,
        "incident_id": incident.id,
        "action": "pause",
        "name": "retry",  # an operation the pipeline's kind does not have: operators hear so (409)
        "uidb64": urlsafe_base64_encode(force_bytes(resetting.pk)),
        "token": default_token_generator.make_token(resetting),
        "app_label": "jobs",
        "content_type_id": ContentType.objects.get_for_model(Pipeline).pk,
        "url": "nothing-here/",
    }


def _admin_model(route: Route) -> Any | None:
    """The model behind an admin route: admin/<app_label>/<model_name>/..."""
    for model in admin.site._registry:
        if route.pattern.startswith(f"admin/{model._meta.app_label}/{model._meta.model_name}/"):
            return model
    return None


def url_for(route: Route, world: dict[str, Any], persona: str, users: dict[str, Any]) -> str:
    values = dict(world)
    if "<int:token_id>" in route.pattern:  # one's own token (anonymous: someone's)
        owner = users.get(persona, world["admin_user"])
        issue_token(owner)
        values["token_id"] = ApiToken.objects.filter(user=owner).latest("pk").pk
    model = _admin_model(route)
    if route.key == "admin:view_on_site":
        values["object_id"] = Pipeline.objects.order_by("pk").first().pk
    elif model is not None and ("object_id>" in route.pattern or "<id>" in route.pattern):
        obj = model.objects.order_by("pk").first()
        assert obj is not None, f"make_world() should create a {model.__name__} for {route.key}"
        values["object_id"] = values["id"] = obj.pk
    kwargs = {name: values[name] for name in route.params}
    if not route.key.startswith("admin/"):
        return reverse(route.key, kwargs=kwargs)
    # Unnamed admin routes: a model's bare object URL, and the catch-all.
    path = PARAM.sub(lambda m: str(kwargs[m.group(1)]), route.pattern)
    return "/" + path.replace("(?P<url>.*)$", str(kwargs.get("url", ""))).lstrip("^")


def client_for(persona: str, users: dict[str, Any]) -> tuple[Client, str]:
    """A client as a browser of this persona, holding a valid CSRF cookie and its token."""
    client = Client(enforce_csrf_checks=True)
    if persona != "anonymous":
        client.force_login(users[persona])
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return client, token


def ask(route: Route, world: dict[str, Any], persona: str, method: str, users: dict[str, Any]) -> int:
    """One cell; what the request writes is rolled back, so every cell meets the same world."""
    with transaction.atomic():
        client, token = client_for(persona, users)
        url = url_for(route, world, persona, users)
        if route.key == "healthz":  # a running scheduler ticks: a beat from the start of a slow run is not one
            Heartbeat.objects.update_or_create(name="beat", defaults={"at": timezone.now()})
        if method == "GET":
            status = client.get(url).status_code
        else:
            status = client.post(url, HTTP_X_CSRFTOKEN=token).status_code
        transaction.set_rollback(True)
    return status


def make_users(admin_user: Any) -> dict[str, Any]:
    return {
        "no_role": user_with_role("nobody", None),
        "viewer": user_with_role("vera", "viewer"),
        "operator": user_with_role("olga", "operator"),
        "admin": admin_user,
    }

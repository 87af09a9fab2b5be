"""The API's writes (operator role; a token needs the operate scope, checked by dashboard.auth
before any of these runs): create pipelines, register jobs, act on pipelines, acknowledge;
and, for admins, add vendor accounts."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from jobs import actions, audit
from jobs.account_rules import AccountFields, check
from jobs.emptydays import set_empty_day_is_failure
from jobs.models import Account, Pipeline, Run, Team
from jobs.suppression import suppressions
from vendors.registry import VENDORS

from ..auth import admin_writes
from ..envelope import api_error
from ..inputs import BadInput
from ..views.api import pipeline_json
from ..views.api_actions import ACTIONS
from ..views.failures import _find, acknowledge, incident_json
from .reads import one_pipeline, router
from .schemas import (
    AccountOut,
    AckIn,
    ActionOut,
    CreateAccountIn,
    CreatePipelineIn,
    Error,
    IncidentOut,
    OperationIn,
    PipelineOut,
    PipelineSettingsIn,
    RegisterRunIn,
)

WRITE_ERRORS = {400: Error, 401: Error, 403: Error, 413: Error}
Action = Literal[tuple(ACTIONS)]  # type: ignore[valid-type]


def answer(result: actions.ActionResult, ok_status: int = 200) -> HttpResponse:
    """Done: the result (and the pipelines it touched). Refused: the error envelope, 400 for
    our validation, 502 when the vendor said no or could not be reached, with its message."""
    details = result.details or None
    if not result.ok:
        status = 400 if result.field_errors or result.http_status is None else 502
        return api_error(status, result.message, fields=result.field_errors or None, details=details)
    body: dict[str, Any] = {"ok": True, "message": result.message}
    if details:
        body["details"] = details
    if result.pipelines:
        now = timezone.now()
        found = list(
            Pipeline.objects.select_related("account", "current_run").filter(pk__in=[p.pk for p in result.pipelines])
        )
        quiet = suppressions(found, now)
        body["pipelines"] = [pipeline_json(p, now, quiet.get(p.pk)) for p in found]
    return JsonResponse(body, status=ok_status)


@router.post(
    "pipelines/new/",
    tags=["write"],
    response={201: ActionOut, **WRITE_ERRORS, 502: Error},
    url_name="api-pipeline-create",
    operation_id="create_pipeline",
)
def create_pipeline(request: HttpRequest, payload: CreatePipelineIn) -> HttpResponse:
    """Create a pipeline on an account (the vendor is asked to create it where it keeps them)."""
    account = Account.objects.filter(name=payload.account).first()
    if account is None:
        return api_error(400, "account: no such account", fields={"account": "no such account"})
    result = actions.create(account, payload.kind, payload.spec, request.user, stream=payload.stream)
    return answer(result, ok_status=201)


@router.post(
    "pipelines/{pipeline_uuid}/runs/",
    tags=["write"],
    response={201: ActionOut, **WRITE_ERRORS, 404: Error},
    url_name="api-pipeline-runs",
    operation_id="register_run",
)
def register_run(request: HttpRequest, pipeline_uuid: UUID, payload: RegisterRunIn) -> HttpResponse:
    """Register a job started outside Pipewatch on a stream of jobs; it is polled from now on."""
    pipeline = get_object_or_404(Pipeline.objects.select_related("account"), uuid=pipeline_uuid)
    return answer(actions.register(pipeline, payload.external_id, request.user), ok_status=201)


@router.post(
    "pipelines/{pipeline_uuid}/actions/{action}/",
    tags=["write"],
    response={200: ActionOut, **WRITE_ERRORS, 404: Error, 502: Error},
    url_name="api-pipeline-action",
    operation_id="act_on_pipeline",
)
def pipeline_action(request: HttpRequest, pipeline_uuid: UUID, action: Action) -> HttpResponse:
    """cancel, pause / resume (monitoring), vendor-pause / vendor-resume, run-now, poll."""
    pipeline = get_object_or_404(Pipeline.objects.select_related("account"), uuid=pipeline_uuid)
    return answer(ACTIONS[action](pipeline, request.user))


@router.post(
    "pipelines/{pipeline_uuid}/operations/{name}/",
    tags=["write"],
    response={200: ActionOut, **WRITE_ERRORS, 404: Error, 502: Error},
    url_name="api-pipeline-operation",
    operation_id="operate_on_pipeline",
)
def pipeline_operation(request: HttpRequest, pipeline_uuid: UUID, name: str, payload: OperationIn) -> HttpResponse:
    """One of the kind's own operations (listed in the pipeline's `operations`): retry or cancel
    a run (send `run`), backfill a date range, cancel a backfill, full resync..."""
    pipeline = get_object_or_404(Pipeline.objects.select_related("account"), uuid=pipeline_uuid)
    cls = VENDORS.get(pipeline.account.vendor)
    if cls is None or cls.operation(pipeline.kind, name) is None:
        return api_error(404, f"{pipeline.kind} pipelines have no operation {name!r}")
    run = None
    if payload.run is not None:
        run = Run.objects.filter(pipeline=pipeline, uuid=payload.run).first()
        if run is None:
            return api_error(404, "run: no such run of this pipeline", fields={"run": "no such run of this pipeline"})
    return answer(actions.operate(pipeline, name, request.user, dict(payload.values), run))


@router.patch(
    "pipelines/{uuid:pipeline_uuid}/",
    tags=["write"],
    response={200: PipelineOut, **WRITE_ERRORS, 404: Error},
    url_name="api-pipeline",
    operation_id="update_pipeline",
)
def update_pipeline(request: HttpRequest, pipeline_uuid: UUID, payload: PipelineSettingsIn) -> dict:
    """Change who owns a pipeline (`team`) and whether an empty day counts as a failure."""
    pipeline = get_object_or_404(Pipeline.objects.select_related("account", "team"), uuid=pipeline_uuid)
    given = payload.model_fields_set
    with audit.acting_as(request.user):
        if "team" in given:
            team = _team(payload.team)
            if team != pipeline.team:
                pipeline.team = team
                pipeline.save(update_fields=["team"])  # audited by the model hooks, naming the caller
        if "empty_day_is_failure" in given:
            if payload.empty_day_is_failure is None:
                raise BadInput("must be true or false", field="empty_day_is_failure")
            set_empty_day_is_failure(pipeline, payload.empty_day_is_failure)
    return one_pipeline(pipeline_uuid)


def _team(value: str | None) -> Team | None:
    if value is None:
        return None
    if not value.strip():
        raise BadInput("must be a team's slug, or null for the account's team", field="team")
    team = Team.objects.filter(slug=value.strip()).first()
    if team is None:
        raise BadInput("no such team", field="team")
    return team


@router.post(
    "failures/{incident_id}/ack/",
    tags=["write"],
    response={200: IncidentOut, **WRITE_ERRORS, 404: Error},
    url_name="api-failure-ack",
    operation_id="acknowledge_failure",
)
def acknowledge_failure(request: HttpRequest, incident_id: str, payload: AckIn) -> dict:
    """Acknowledge an open incident, with a note and an optional snooze."""
    incident = _find(incident_id)
    acknowledge(incident, request.user, payload.note, payload.snooze_minutes)
    return incident_json(incident)


@router.post(
    "accounts/",
    tags=["write"],
    response={201: AccountOut, **WRITE_ERRORS},
    url_name="api-accounts",
    operation_id="create_account",
)
@admin_writes
def create_account(request: HttpRequest, payload: CreateAccountIn) -> HttpResponse:
    """Add a vendor account (the admin role). Checked by the rules config as code, the admin
    and the accounts page apply (jobs.account_rules), with the same messages, by field."""
    asked = AccountFields(payload.name, payload.vendor, payload.region, payload.base_url)
    asked.settings, asked.credentials = payload.settings, payload.credentials
    checked = check(asked)
    try:
        team = _team(payload.team)
    except BadInput as exc:
        team, checked.problems["team"] = None, exc.message
    if checked.problems:
        message = "; ".join(f"{key}: {problem}" for key, problem in checked.problems.items())
        return api_error(400, message, fields=checked.problems)
    fields = checked.fields
    account = Account(name=fields.name, vendor=fields.vendor, region=fields.region, base_url=fields.base_url)
    account.settings, account.credentials, account.team = fields.settings, fields.credentials, team
    with audit.acting_as(request.user):
        account.save()  # audited by the model hooks: what changed, never the secrets
    return JsonResponse(account_json(account), status=201)


def account_json(account: Account) -> dict[str, Any]:
    team = {"slug": account.team.slug, "name": account.team.name} if account.team else None
    return {
        "id": str(account.uuid),
        "name": account.name,
        "vendor": account.vendor,
        "region": account.region,
        "base_url": account.base_url,
        "settings": account.settings,
        "credentials": sorted(account.credentials),
        "team": team,
    }

"""`/pipelines/new/`: choose where and what, fill exactly that type's fields (htmx swaps
them), have the vendor's rules checked before the call, see the vendor's answer."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from jobs import actions, upload_queue
from jobs.polling import client_for_account

from ..create import CreateForm, creatable, kept_values, resolve
from ..roles import OPERATOR, lacks


def _fields(what: str, chosen: dict) -> tuple[object, str, list]:
    account, kind = resolve(what)
    if account is None:
        return None, "", []
    return account, kind, client_for_account(account).create_fields(kind, chosen)


@login_required
def create_pipeline(request: HttpRequest) -> HttpResponse:
    if lacks(request, OPERATOR):
        return render(request, "dashboard/forbidden.html", {"needs": "operator"}, status=403)
    data = request.POST if request.method == "POST" else request.GET
    what = data.get("what", "")
    account, kind, fields = _fields(what, {"type": data.get("type", "")})
    context = {"options": creatable(), "what": what, "account": account, "kind": kind}
    if request.method != "POST":
        # Choosing a type (or a Statsig warehouse) re-asks for the fields: what was typed stays.
        context["form"] = CreateForm(fields, initial=kept_values(fields, data)) if fields else None
        if request.htmx:
            return render(request, "dashboard/create.html#fields", context)
        return render(request, "dashboard/create.html", context)

    form = CreateForm(fields, request.POST, request.FILES)
    context.update(form=form, checking="preview" in request.POST)
    if not fields or not form.is_valid():
        return render(request, "dashboard/create.html#fields" if request.htmx else "dashboard/create.html", context)
    spec = form.spec()
    if form.errors:  # an upload that did not parse, or over the cap
        template = "dashboard/create.html#fields" if request.htmx else "dashboard/create.html"
        return render(request, template, context, status=413 if form.too_large else 200)
    if len(form.deferred) > 1:
        form.add_error(None, "Only one large file can be sent at a time.")
        return render(request, "dashboard/create.html#fields" if request.htmx else "dashboard/create.html", context)
    if form.deferred:  # too large to read here: a worker reads it, its page shows how far
        ((name, file),) = form.deferred.items()
        upload = upload_queue.store(
            file,
            account=account,
            kind=kind,
            field=name,
            spec=spec,
            preview="preview" in request.POST,
            user=request.user,
        )
        target = redirect("upload", upload.uuid)
        return HttpResponseClientRedirect(target.url) if request.htmx else target
    client = client_for_account(account)
    if "preview" in request.POST:
        context["preview"] = client.describe_create(kind, spec) or f"{form.rows_read:,} rows read."
        return render(request, "dashboard/create.html#fields" if request.htmx else "dashboard/create.html", context)
    result = actions.create(account, kind, spec, request.user)
    if result.ok and result.pipelines:
        target = redirect("pipeline", result.pipelines[0].uuid)
        return HttpResponseClientRedirect(target.url) if request.htmx else target
    for name, message in result.field_errors.items():
        form.add_error(name if name in form.fields else None, form.readable(name, message))
    context["result"] = result
    return render(request, "dashboard/create.html#fields" if request.htmx else "dashboard/create.html", context)

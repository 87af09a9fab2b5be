"""Vendor accounts, for admins: credential health, add and edit with write-only secrets,
and "test connection" against the vendor's cheapest authenticated endpoint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs import audit
from jobs.models import Account
from jobs.polling import client_for_account
from vendors import base as vb

from ..forms import AccountForm
from ..roles import ADMIN, lacks


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if lacks(request, ADMIN):
            return render(request, "dashboard/forbidden.html", {"needs": "admin"}, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


@admin_required
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = Account.objects.order_by("name")
    return render(request, "dashboard/accounts.html", {"accounts": accounts})


@admin_required
def account_edit(request: HttpRequest, account_uuid: object = None) -> HttpResponse:
    account = get_object_or_404(Account, uuid=account_uuid) if account_uuid else None
    if request.method == "POST":
        form = AccountForm(request.POST, instance=account)
        if form.is_valid():
            form.save()  # audited by jobs.audit's model hooks: what changed, never the secrets
            return redirect("accounts")
    else:
        form = AccountForm(instance=account, vendor=request.GET.get("vendor", ""))
    template = (
        "dashboard/account_form.html#fields"
        if request.htmx and request.method == "GET"
        else "dashboard/account_form.html"
    )
    return render(request, template, {"form": form, "account": account})


@admin_required
@require_POST
def account_test(request: HttpRequest, account_uuid: object) -> HttpResponse:
    account = get_object_or_404(Account, uuid=account_uuid)
    try:
        message, ok = client_for_account(account).check_credentials(), True
    except vb.VendorError as exc:
        message, ok = str(exc), False
    except Exception as exc:  # undecryptable credentials, a bug: say so, never a 500 page
        message, ok = f"{type(exc).__name__}: {exc}", False
    now = timezone.now()
    if ok:
        Account.objects.filter(pk=account.pk).update(last_poll_ok_at=now)
    audit.record(
        "account.test_connection",
        target_type="account",
        target_label=account.name,
        outcome="ok" if ok else "error",
        detail={"result": message},
    )
    return render(request, "dashboard/accounts.html#test-result", {"ok": ok, "message": message, "account": account})

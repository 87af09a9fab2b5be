from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .apiv1.app import urlpatterns as api_urlpatterns
from .views import (
    accounts,
    actions,
    audit,
    charts,
    create,
    exports,
    failures,
    health,
    metrics,
    mute,
    operations,
    owner,
    pages,
    preferences,
    uploads,
)

urlpatterns = [
    path("", pages.overview, name="overview"),
    path("pipelines/new/", create.create_pipeline, name="pipeline-new"),
    path("uploads/<uuid:upload_uuid>/", uploads.upload_status, name="upload"),
    path("pipelines/<uuid:pipeline_uuid>/", pages.pipeline_detail, name="pipeline"),
    path("pipelines/<uuid:pipeline_uuid>/actions/<slug:action>/", actions.pipeline_action, name="pipeline-action"),
    path(
        "pipelines/<uuid:pipeline_uuid>/operations/<slug:name>/",
        operations.pipeline_operation,
        name="pipeline-operation",
    ),
    path("pipelines/<uuid:pipeline_uuid>/mute/", mute.mute, name="pipeline-mute"),
    path("pipelines/<uuid:pipeline_uuid>/unmute/", mute.unmute, name="pipeline-unmute"),
    path("pipelines/<uuid:pipeline_uuid>/owner/", owner.pipeline_owner, name="pipeline-owner"),
    path("runs/<uuid:run_uuid>/", pages.run_detail, name="run"),
    path("runs/export.csv", exports.overview_runs, {"fmt": "csv"}, name="runs-export-csv"),
    path("runs/export.jsonl", exports.overview_runs, {"fmt": "jsonl"}, name="runs-export-jsonl"),
    path("pipelines/<uuid:pipeline_uuid>/runs.csv", exports.pipeline_runs, {"fmt": "csv"}, name="pipeline-runs-csv"),
    path(
        "pipelines/<uuid:pipeline_uuid>/runs.jsonl", exports.pipeline_runs, {"fmt": "jsonl"}, name="pipeline-runs-jsonl"
    ),
    path("runs/<uuid:run_uuid>/items.csv", pages.run_items_csv, name="run-items-csv"),
    path("pipelines/<uuid:pipeline_uuid>/timeline/", charts.pipeline_timeline, name="pipeline-timeline"),
    path("timeline/", charts.timeline_page, name="timeline"),
    path("freshness/", charts.freshness_page, name="freshness"),
    path("failures/", failures.failures_page, name="failures"),
    path("audit/", audit.audit_log, name="audit"),
    path("accounts/", accounts.account_list, name="accounts"),
    path("accounts/new/", accounts.account_edit, name="account-new"),
    path("accounts/<uuid:account_uuid>/", accounts.account_edit, name="account-edit"),
    path("accounts/<uuid:account_uuid>/test/", accounts.account_test, name="account-test"),
    path("failures/<str:incident_id>/ack/", failures.failures_ack, name="failure-ack"),
    path("preferences/", preferences.preferences, name="preferences"),
    path("preferences/tokens/", preferences.create_token, name="token-create"),
    path("preferences/tokens/<int:token_id>/revoke/", preferences.revoke_token, name="token-revoke"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("api/v1/", include(api_urlpatterns())),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

handler404 = "dashboard.views.errors.not_found"  # the API answers in its error envelope

"""Owning teams (issue 18, ADR 13): teams in config-as-code, a pipeline's team falling back
to its account's, channels routed by team, and alerts naming the team."""

import textwrap

import pytest
from django.core.management import call_command

from jobs import alerts, config
from jobs.models import Account, AlertDelivery, AlertEvent, Pipeline, Team

from .test_alerts import channel

TEAMS = """
[[teams]]
slug = "growth"
name = "Growth"

[[teams]]
slug = "data-eng"
name = "Data engineering"

[[accounts]]
name = "mp-prod"
vendor = "mixpanel"
base_url = "http://127.0.0.1:9100"
settings = { project_id = "12345" }
credentials = { username = "svc", secret = "s3cret" }
team = "growth"

[[pipelines]]
account = "mp-prod"
kind = "import_connector"
external_id = "c-growth"

[[pipelines]]
account = "mp-prod"
kind = "import_connector"
external_id = "c-data"
team = "data-eng"
empty_day_is_failure = true
"""


def write(tmp_path, text: str):
    path = tmp_path / "pipewatch.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.django_db
def test_config_sets_teams_account_default_and_pipeline_override(tmp_path, capsys) -> None:
    call_command("apply_config", str(write(tmp_path, TEAMS)))
    assert "5 created" in capsys.readouterr().out
    growth, data = Team.objects.get(slug="growth"), Team.objects.get(slug="data-eng")
    assert Account.objects.get().team == growth
    inherited = Pipeline.objects.select_related("account").get(external_id="c-growth")
    overridden = Pipeline.objects.select_related("account").get(external_id="c-data")
    assert (inherited.team, inherited.owning_team) == (None, growth)
    assert (overridden.team, overridden.owning_team) == (data, data)
    assert overridden.empty_day_is_failure and not inherited.empty_day_is_failure

    call_command("apply_config", str(write(tmp_path, TEAMS)))
    assert "0 created, 0 updated, 5 unchanged" in capsys.readouterr().out
    moved = TEAMS.replace('team = "data-eng"\nempty_day_is_failure = true', 'team = "growth"')
    call_command("apply_config", str(write(tmp_path, moved)))
    assert "0 created, 1 updated, 4 unchanged" in capsys.readouterr().out
    pipeline = Pipeline.objects.get(external_id="c-data")
    assert pipeline.team == growth and not pipeline.empty_day_is_failure


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('team = "data-eng"', 'team = "nobody"'), "field 'team': no team 'nobody'"),
        (("empty_day_is_failure = true", 'empty_day_is_failure = "yes"'), "must be true or false"),
        (('slug = "growth"', 'slug = "growth"\ncolour = "red"'), "field 'colour': unknown"),
    ],
)
def test_config_team_problems_are_named_and_change_nothing(tmp_path, change, problem) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.run(write(tmp_path, TEAMS.replace(*change)))
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert not Team.objects.exists() and not Account.objects.exists()


@pytest.mark.django_db
def test_channels_with_teams_hear_only_those_teams_pipelines(mp_account, make_pipeline) -> None:
    growth, data = Team.objects.create(slug="growth", name="Growth"), Team.objects.create(slug="data", name="Data")
    mp_account.team = growth
    mp_account.save()
    inherited = make_pipeline("seed-failed", name="Growth's")
    overridden = make_pipeline("other", name="Data's")
    overridden.team = data
    overridden.save()
    everyone = channel("everyone", "json://hooks.example.com/all")
    growth_only = channel("growth-only", "json://hooks.example.com/growth")
    growth_only.teams.add(growth)
    data_only = channel("data-only", "json://hooks.example.com/data")
    data_only.teams.add(data)
    for pipeline in (inherited, overridden):
        pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
        assert everyone.routes(pipeline, "failed")
    pipelines = {p.name: Pipeline.objects.select_related("account").get(pk=p.pk) for p in (inherited, overridden)}
    assert growth_only.routes(pipelines["Growth's"], "failed") and not growth_only.routes(pipelines["Data's"], "failed")
    assert data_only.routes(pipelines["Data's"], "failed") and not data_only.routes(pipelines["Growth's"], "failed")
    # A pipeline without a team anywhere reaches only channels without teams.
    mp_account.team = None
    mp_account.save()
    orphan = Pipeline.objects.select_related("account").get(pk=inherited.pk)
    assert orphan.owning_team is None and everyone.routes(orphan, "failed")
    assert not growth_only.routes(orphan, "failed") and not data_only.routes(orphan, "failed")


@pytest.mark.django_db
def test_a_failure_is_delivered_to_its_teams_channel_and_names_the_team(sim, mp_account, make_pipeline) -> None:
    from jobs import polling

    growth = Team.objects.create(slug="growth", name="Growth")
    data = Team.objects.create(slug="data", name="Data")
    mp_account.team = growth
    mp_account.save()
    pipeline = make_pipeline("seed-failed", name="Orders")
    growth_hook = channel("growth-hook", "json://hooks.example.com/growth")
    growth_hook.teams.add(growth)
    data_hook = channel("data-hook", "json://hooks.example.com/data")
    data_hook.teams.add(data)
    polling.poll_now(mp_account)
    alerts.evaluate()
    event = AlertEvent.objects.get(pipeline=pipeline, kind="failed")
    assert event.payload["team"] == {"slug": "growth", "name": "Growth"}
    assert "team Growth" in event.title and "Team: Growth" in event.message
    assert list(AlertDelivery.objects.values_list("channel__name", flat=True)) == ["growth-hook"]


@pytest.mark.django_db
def test_the_demo_has_teams_and_its_admin_is_in_one(capsys) -> None:
    call_command("demo_setup", "--allow-without-debug")
    assert set(Team.objects.values_list("slug", flat=True)) == {"data-eng", "growth"}
    assert Account.objects.get(name="mp-prod").team.slug == "data-eng"
    assert Account.objects.get(name="statsig-prod").team.slug == "growth"
    admin = Team.objects.get(slug="data-eng").members.get()
    assert admin.is_superuser
    capsys.readouterr()
    call_command("demo_setup", "--allow-without-debug")  # idempotent
    assert "demo config: 0 created, 0 updated" in capsys.readouterr().out


@pytest.mark.django_db
def test_specs_loaded_without_their_teams_are_a_config_error(tmp_path) -> None:
    accounts, pipelines = config.load(write(tmp_path, TEAMS))  # the file's [[teams]] left out
    with pytest.raises(config.ConfigError) as caught:
        config.apply(accounts, pipelines)
    assert "field 'team': no team 'growth' in the database" in caught.value.problems[0]
    assert not Account.objects.exists()

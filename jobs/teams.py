"""Owning teams: which pipelines a team owns (its own, or its account's by default), as the
pages' shared filter reads it, and "my teams" for the person asking."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from .models import Account, Pipeline, Team

MINE = "mine"  # the filter value meaning "the teams I belong to"


def teams_for(value: str, user: Any = None) -> QuerySet[Team] | None:
    """The teams a filter value names (None: no team filter). An unknown slug names none."""
    if not value:
        return None
    if value == MINE:
        if user is None or not getattr(user, "is_authenticated", False):
            return Team.objects.none()
        return Team.objects.filter(members=user)
    return Team.objects.filter(slug=value)


def owned_by(teams: QuerySet[Team]) -> Q:
    """Pipelines these teams own: their own team, else (none set) their account's."""
    return Q(team__in=teams) | Q(team__isnull=True, account__team__in=teams)


def filter_pipelines(qs: QuerySet[Pipeline], value: str, user: Any = None) -> QuerySet[Pipeline]:
    teams = teams_for(value, user)
    return qs if teams is None else qs.filter(owned_by(teams))


def filter_accounts(qs: QuerySet[Account], value: str, user: Any = None) -> QuerySet[Account]:
    teams = teams_for(value, user)
    return qs if teams is None else qs.filter(team__in=teams)

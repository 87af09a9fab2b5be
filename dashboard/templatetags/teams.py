"""The team filter of the shared filter forms: `{% team_filter params.team %}` inside a
page's filter form adds a Team select with "my teams", and `{% team_filter params.team
quick=True %}` after the form's Apply button a "My teams" button (after it, so that Enter
still submits with Apply). Pages read `team` through `presenters.filtered(params, user)`."""

from __future__ import annotations

from typing import Any

from django import template

from jobs.models import Team
from jobs.teams import MINE

register = template.Library()


@register.inclusion_tag("dashboard/_team_filter.html", takes_context=True)
def team_filter(context: dict[str, Any], current: str, quick: bool = False) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    mine = (
        list(Team.objects.filter(members=user).values_list("name", flat=True)) if user and user.is_authenticated else []
    )
    teams = [] if quick else list(Team.objects.values_list("slug", "name"))
    return {"teams": teams, "current": current, "mine": mine, "MINE": MINE, "quick": quick}

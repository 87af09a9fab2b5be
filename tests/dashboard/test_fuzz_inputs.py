"""No 500 from any input. Every route in the URL configuration (a new route is fuzzed
without touching this file) gets Hypothesis-made hostile requests: query strings, form and
multipart bodies, JSON bodies and path parts holding NUL, lone surrogates, huge and odd
numbers, 5,000-deep JSON, wrong types and 100 kB strings, as GET and POST, from an admin
with a session (the CSRF token sent, so the view itself is reached), an admin with a bearer
token and an anonymous visitor. No answer may be a 500, an exception or a download cut off
mid-stream, and every row that existed before is still there, unchanged.

The query and form keys tried are the ones the views were seen reading (recorded while each
route is visited once), plus the JSON fields of the API and the vendors' create fields.
PW_FUZZ_EXAMPLES (default 6) sets the examples per route; the run prints what it tried."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth import get_user_model
from django.http import QueryDict
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from django.utils.datastructures import MultiValueDict
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from dashboard.auth import issue_token
from dashboard.views.api_actions import ACTIONS
from jobs.failures import incidents
from jobs.models import Account, ApiToken, AuditEvent, Pipeline, Run, RunItem
from jobs.polling import client_for_account

from ..hostile import DEEP_JSON, FIXED_TEXTS, HUGE, build, hostile_json, hostile_texts

EXAMPLES = int(os.environ.get("PW_FUZZ_EXAMPLES", "6"))
JSON_KEYS = ["account", "kind", "stream", "spec", "external_id", "note", "snooze_minutes", "limit", "offset"]
IDENTITIES = ("admin", "admin", "admin", "bearer", "anonymous")
GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")


@dataclass(frozen=True)
class Route:
    regex: str  # the whole path's regex, as the resolver matches it
    name: str
    callback: Callable[..., Any]

    @property
    def model(self) -> Any:
        model_admin = getattr(self.callback, "model_admin", None)
        return model_admin.model if model_admin else None


def all_routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            regex = prefix + entry.pattern.regex.pattern.removeprefix("^").removesuffix(r"\Z").removesuffix("$")
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, regex)
            else:
                found.append(Route(regex, entry.name or regex, entry.callback))

    walk(get_resolver().url_patterns, "")
    return found


@dataclass
class Request:
    identity: str
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes = b""
    content_type: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        body = self.body[:160] + (b"..." if len(self.body) > 160 else b"")
        extra = f" {self.extra}" if self.extra else ""
        query = f"{self.query!r:.200}"
        return f"{self.identity} {self.method} {self.path[:160]} query={query}{extra} {self.content_type} {body!r}"


class World:
    """What exists before the fuzzing: the values real paths are made of, and the keys to try."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin
        self.values: dict[str, list[str]] = {
            # A job stream first: the plain requests then reach the register body of its runs API.
            "pipeline_uuid": [str(p.uuid) for p in sorted(Pipeline.objects.all(), key=lambda p: not p.is_one_shot)],
            "run_uuid": [str(u) for u in Run.objects.values_list("uuid", flat=True)],
            "account_uuid": [str(u) for u in Account.objects.values_list("uuid", flat=True)],
            "incident_id": [i.id for i in incidents()],
            "action": list(ACTIONS),
            "id": [str(admin.pk)],
        }
        self.accounts = list(Account.objects.values_list("name", flat=True))
        self.kinds, self.spec_keys = set(), set()
        for account in Account.objects.all():
            client = client_for_account(account)
            for kind in client.schema.kinds:
                self.kinds.add(kind)
                for spec in client.create_fields(kind, {}):
                    self.spec_keys.add(spec.name)
                    for choice in spec.choices if spec.name == "type" else ():
                        self.spec_keys.update(f.name for f in client.create_fields(kind, {"type": choice}))
        self.keys_read: dict[str, set[str]] = {}  # route regex: the GET and POST keys its view looked up

    def path_values(self, route: Route, name: str) -> list[str]:
        if route.name in DESTRUCTIVE_BY_ID:
            return [ABSENT_ID]  # a valid POST there deletes what the id names: only an id that does not exist
        if name == "object_id" and route.model is not None:
            if route.name.endswith("_delete"):
                return []  # any POST there is a confirmed deletion: only ids that do not exist
            return [str(pk) for pk in route.model._default_manager.values_list("pk", flat=True)[:5]]
        return self.values.get(name, [])


# Routes where a well-formed POST with an existing id is a legitimate deletion, not lost data.
DESTRUCTIVE_BY_ID = frozenset({"token-revoke"})
ABSENT_ID = "999999999"


def paths(route: Route, world: World) -> st.SearchStrategy[str]:
    parts: list[st.SearchStrategy[str]] = []
    start = 0
    for group in GROUP.finditer(route.regex):
        parts.append(st.just(_unescape(route.regex[start : group.start()])))
        name, regex = group.groups()
        fitting = [t for t in FIXED_TEXTS if re.fullmatch(regex, t)]
        made = st.from_regex(regex, fullmatch=True)
        made = st.one_of(made, st.sampled_from(fitting)) if fitting else made
        real = world.path_values(route, name)
        if route.name in DESTRUCTIVE_BY_ID:
            made = st.integers(10**8, 10**9).map(str)  # never an existing row's id
        parts.append(st.one_of(st.sampled_from(real), made) if real else made)
        start = group.end()
    parts.append(st.just(_unescape(route.regex[start:])))
    return st.tuples(*parts).map(lambda pieces: "/" + "".join(pieces))


def plain_path(route: Route, world: World) -> str:
    """The route with real values (or the simplest that fit) in its path parts."""

    def value(group: re.Match) -> str:
        name, regex = group.groups()
        candidates = [*world.path_values(route, name), "jobs", "1", "x", "", "00000000-0000-0000-0000-000000000000"]
        return next(c for c in candidates if re.fullmatch(regex, c))

    return "/" + _unescape(GROUP.sub(value, route.regex))


def route_name(path: str) -> str:
    try:
        match = resolve(path)
    except Exception:
        return "(no route)"
    return match.url_name or match.route


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")  # a lone surrogate as the bytes a client could send


def _multipart(pairs: list[tuple[str, str]], upload: bytes) -> tuple[bytes, str]:
    boundary = "pwfuzzBoundary7MA4YWxkTrZu0gW"
    out = b""
    for key, value in pairs:
        out += b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            boundary.encode(),
            _encode(key).replace(b'"', b"'"),
            _encode(value),
        )
    out += b'--%s\r\nContent-Disposition: form-data; name="rows"; filename="rows.csv"\r\n' % boundary.encode()
    out += b"Content-Type: text/csv\r\n\r\n%s\r\n--%s--\r\n" % (upload, boundary.encode())
    return out, f"multipart/form-data; boundary={boundary}"


@st.composite
def requests(draw: st.DrawFn, route: Route, world: World) -> Request:
    own = sorted(world.keys_read.get(route.regex, ()))
    every = sorted(set().union(*world.keys_read.values(), JSON_KEYS, world.spec_keys))
    keys = st.one_of(st.sampled_from(own or every), st.sampled_from(every), hostile_texts())
    pairs = st.lists(st.tuples(keys, hostile_texts()), max_size=4)
    request = Request(
        identity=draw(st.sampled_from(IDENTITIES)),  # the admin reaches the most code: drawn most often
        method=draw(st.sampled_from(["GET", "GET", "POST", "POST", "POST", "PUT", "DELETE"])),
        path=draw(paths(route, world)),
        query=draw(pairs),
    )
    if draw(st.booleans()):
        request.extra["HTTP_HX_REQUEST"] = "true"
    if request.identity == "anonymous" and draw(st.integers(0, 7)) == 0:
        # A cookie Django unquotes into a NUL: "\000" in a quoted cookie value.
        request.extra["cookie"] = draw(st.sampled_from(['sessionid="\\000abcdefgh"', 'pw_tz="\\000UTC"']))
    if request.method == "GET":
        return request
    shape = draw(st.sampled_from(["form", "multipart", "json", "json-fields", "raw"]))
    if shape == "form":
        request.body = urlencode(draw(pairs), encoding="utf-8", errors="surrogatepass").encode()
        request.content_type = "application/x-www-form-urlencoded"
    elif shape == "multipart":
        upload = draw(st.one_of(st.binary(max_size=200), st.sampled_from([b"a,b\n1,2\n", b"\x00\xff\xfe", b""])))
        request.body, request.content_type = _multipart(draw(pairs), upload)
    else:
        request.content_type = "application/json"
        if shape == "json":
            value = draw(hostile_json(JSON_KEYS))
        elif shape == "json-fields":  # a body that reaches deep: a real account and kind, a spec of hostile values
            anything = hostile_json(JSON_KEYS)
            value = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "account": st.one_of(st.sampled_from(world.accounts), anything),
                        "kind": st.one_of(st.sampled_from(sorted(world.kinds)), anything),
                        "stream": anything,
                        "spec": st.one_of(
                            st.dictionaries(st.sampled_from(sorted(world.spec_keys)), anything), anything
                        ),
                        "external_id": anything,
                        "note": anything,
                        "snooze_minutes": anything,
                    },
                )
            )
        if shape == "raw":
            request.body = draw(st.one_of(st.sampled_from(DEEP_JSON).map(_encode), st.binary(max_size=100)))
        else:
            request.body = json.dumps(value).encode()
    return request


def explicit(route: Route, world: World) -> list[Request]:
    """Tried on every route before the random ones: each key the view reads set to NUL or to
    a huge number, JSON fields of the wrong type, 5,000-deep JSON, a NUL session cookie."""
    path, own = plain_path(route, world), sorted(world.keys_read.get(route.regex, ()))
    nul = "a\x00b"
    spec = {key: nul for key in sorted(world.spec_keys)}
    deep_fields = {"account": world.accounts[0], "kind": sorted(world.kinds)[0], "spec": spec, "external_id": None}
    wrong_types = json.dumps(deep_fields)[:-1] + ', "note": [1], "snooze_minutes": 1e999, "stream": {}}'
    as_nul = json.dumps({key: nul for key in JSON_KEYS} | {"spec": spec})
    form = urlencode([(key, nul) for key in own]).encode()
    return [
        Request("admin", "GET", path, [(key, nul) for key in own]),
        Request("admin", "POST", path, [], form, "application/x-www-form-urlencoded"),
        Request("admin", "POST", path, [(key, HUGE) for key in own], as_nul.encode(), "application/json"),
        Request("admin", "POST", path, [], wrong_types.encode(), "application/json"),
        Request("admin", "POST", path, [], DEEP_JSON[0].encode(), "application/json"),
        Request("anonymous", "GET", path, [], extra={"cookie": 'sessionid="\\000abcdefgh"'}),
    ]


@dataclass
class Tally:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    crashes: list[tuple[str, str]] = field(default_factory=list)  # (what broke where, the request)
    seconds: float = 0.0


class Clients:
    """One client per identity, each holding the CSRF cookie it would have in a browser."""

    def __init__(self, admin: Any, token: str) -> None:
        self.admin_user = admin
        self.by_identity = {
            "admin": Client(enforce_csrf_checks=True, raise_request_exception=False),
            "anonymous": Client(enforce_csrf_checks=True, raise_request_exception=False),
            "bearer": Client(
                enforce_csrf_checks=True, raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}"
            ),
        }
        self.by_identity["admin"].force_login(admin)

    def get(self, identity: str) -> Client:
        client = self.by_identity[identity]
        session, csrf = client.cookies.get("sessionid"), client.cookies.get("csrftoken")
        if identity == "admin" and not (session and session.value):
            client.force_login(self.admin_user)  # the fuzz posted to a logout
        if identity != "bearer" and not (csrf and csrf.value):
            client.get("/login/")  # the page sets the CSRF cookie, as a browser would have it
        return client

    def send(self, request: Request, tally: Tally) -> None:
        client = self.get(request.identity)
        extra, body = dict(request.extra), request.body
        token = client.cookies["csrftoken"].value if request.identity != "bearer" else ""
        if token and request.method != "GET":
            if request.content_type == "application/x-www-form-urlencoded":
                body += b"&" + urlencode({"csrfmiddlewaretoken": token}).encode()
            else:
                extra["HTTP_X_CSRFTOKEN"] = token  # multipart and JSON: the header htmx and scripts send
        if cookie := extra.pop("cookie", None):
            extra["HTTP_COOKIE"] = f"csrftoken={token}; {cookie}"
        query = urlencode(request.query, encoding="utf-8", errors="surrogatepass")
        url = quote(request.path, safe="/", errors="surrogatepass") + (f"?{query}" if query else "")
        started = time.monotonic()
        response = client.generic(request.method, url, body, content_type=request.content_type or "text/plain", **extra)
        problem = ""
        if response.status_code == 500 or getattr(response, "exc_info", None):
            exc = response.exc_info[1] if getattr(response, "exc_info", None) else None
            problem = f"{response.status_code} {type(exc).__name__}: {str(exc)[:200]}"
        elif response.streaming:
            try:
                b"".join(response.streaming_content)
            except Exception as exc:  # a download cut off mid-stream: the client got half a file
                problem = f"{response.status_code} cut off mid-stream: {type(exc).__name__}: {str(exc)[:200]}"
        tally.seconds += time.monotonic() - started
        tally.sent += 1
        tally.statuses[response.status_code] += 1
        if problem:
            tally.crashes.append((f"{route_name(request.path)}: {problem}", str(request)))


def snapshot() -> dict[str, set[tuple]]:
    return {
        "accounts": {(a.uuid, a.name, a.vendor, a.base_url, json.dumps(a.credentials)) for a in Account.objects.all()},
        "pipelines": set(Pipeline.objects.values_list("uuid", "account_id", "kind", "external_id", "name")),
        "runs": set(Run.objects.values_list("uuid", "pipeline_id", "external_id")),
        "items": set(RunItem.objects.values_list("run_id", "position", "code", "message")),
        "audit": set(AuditEvent.objects.values_list("id", "action", "target_label", "outcome")),
        "tokens": set(ApiToken.objects.values_list("digest", "user_id")),
        "users": set(get_user_model().objects.values_list("username", "is_superuser", "is_active")),
    }


@pytest.fixture
def recorded_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every key a view looks up in request.GET or request.POST."""
    seen: set[str] = set()
    for name in ("get", "getlist", "__getitem__", "__contains__"):
        original = getattr(MultiValueDict, name)

        def recording(self: Any, key: Any, *args: Any, _original: Any = original) -> Any:
            if isinstance(self, QueryDict) and isinstance(key, str):
                seen.add(key)
            return _original(self, key, *args)

        monkeypatch.setattr(MultiValueDict, name, recording)
    yield seen


@pytest.mark.django_db(transaction=True)  # committed as in production: a failed query spoils nothing else
def test_no_input_gets_a_500_and_nothing_is_lost(sim, mp_account, make_pipeline, recorded_keys, capsys) -> None:
    world_data = build(sim, mp_account, make_pipeline)
    for _ in range(2):  # discovered pipelines, then their runs and the FullStory job's row errors
        world_data.poll_all()
    admin = get_user_model().objects.create_superuser("root", password="x" * 16)
    token = issue_token(admin, "fuzz", scope="operate")
    world = World(admin)
    clients = Clients(admin, token)
    tally = Tally()
    routes = all_routes()
    before = snapshot()

    for route in routes:  # once, plainly, to learn the keys each view reads
        recorded_keys.clear()
        for method in ("GET", "POST"):
            clients.send(Request("admin", method, plain_path(route, world), []), tally)
        world.keys_read[route.regex] = set(recorded_keys) - {"csrfmiddlewaretoken"}

    for route in routes:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # a crash is counted, not shrunk: see them all
            suppress_health_check=list(HealthCheck),
        )
        @given(requests(route, world))
        def fuzz(request: Request) -> None:
            clients.send(request, tally)

        for request in explicit(route, world):
            fuzz = example(request)(fuzz)
        fuzz()

    after = snapshot()
    lost = {table: sorted(rows - after[table], key=repr)[:5] for table, rows in before.items() if rows - after[table]}
    with capsys.disabled():
        print(
            f"\nfuzz: {tally.sent} requests to {len(routes)} routes in {tally.seconds:.1f} s, "
            f"{len(tally.crashes)} crashes (500s); statuses {dict(sorted(tally.statuses.items()))}"
        )
        kinds = Counter(what for what, _ in tally.crashes)
        examples = dict(reversed(tally.crashes))  # the first request seen for each
        for what, count in kinds.most_common():
            print(f"  {count} x {what}\n      e.g. {examples[what]}")
    assert not tally.crashes, f"{len(tally.crashes)} of {tally.sent} requests crashed"
    assert not lost, f"rows changed or gone: {lost}"

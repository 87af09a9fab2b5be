"""Credentials never leave the server, not even a fragment (README "Security model").

A `Scrubber` knows some secrets and blanks, in any text, every run of characters made of
fragments (MIN_FRAGMENT or more characters) of a secret or of what it becomes on the wire:
base64 at any alignment (Basic auth's `user:secret`), URL encoding. It is applied in two places:

- `ScrubbedClient`: every answer and error of a vendor client passes through its account's
  scrubber on the way out of vendors/, so whatever polling, actions and "test connection"
  store, show or log is clean (`jobs.polling.client_for_account` hands out only these);
- the log: the process remembers every credential it decrypts (`remember`), and every log
  record, ours or a library's, is scrubbed against all of them when it is created.

Which values are secret is decided by their key (`is_secret_key`); a credential whose key
names an identifier (username, client_id) is blanked only where it appears whole.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import dataclasses
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any
from urllib.parse import quote, quote_plus

from vendors.base import InvalidSpec, VendorError

MIN_FRAGMENT = 4  # shorter runs are ordinary text, not a usable part of a secret
REDACTED = "(redacted)"
SEEN_TEXTS, SEEN_LENGTH = 256, 128  # per scrubber: texts remembered, and the longest remembered

# -- which values are secret -------------------------------------------------------
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z0-9]+")
SECRET_WORDS = frozenset(
    {
        "secret", "secrets", "password", "passwd", "pwd", "passphrase", "token", "tokens", "credential",
        "credentials", "sas", "apikey", "privatekey", "authorization", "auth", "cookie", "signature", "dsn",
    }
)  # fmt: skip
# "<qualifier>_key" is a secret ("api_key", "sas_key"); "kms_key_id", "idempotency_key" are not.
KEY_QUALIFIERS = frozenset(
    {"api", "private", "access", "secret", "sas", "account", "signing", "master", "client", "shared", "storage",
     "encryption", "service", "app", "webhook", "auth", "license", "subscription", "partner"}
)  # fmt: skip
IDENTIFIER_WORDS = frozenset({"user", "username", "login", "email", "id", "tenant", "project", "org", "team", "region"})


def _words(name: str) -> list[str]:
    return _WORD.findall(_CAMEL.sub("_", name).lower())


def is_secret_key(name: str) -> bool:
    """Does a field of this name hold a secret (client_secret, sas_key, STATSIG-API-KEY, ...)?"""
    words = _words(name)
    if any(w in SECRET_WORDS or "secret" in w or "password" in w for w in words):
        return True
    for i, word in enumerate(words):
        if word == "key" and (len(words) == 1 or (i > 0 and words[i - 1] in KEY_QUALIFIERS)):
            return True
    joined = "".join(words)
    return any(s in joined for s in ("apikey", "accesskey", "privatekey", "secretkey", "connectionstring"))


def _is_identifier_key(name: str) -> bool:
    return not is_secret_key(name) and any(w in IDENTIFIER_WORDS for w in _words(name))


def secret_values(value: Any) -> list[str]:
    """Every string held under a secret-looking key, at any depth (a create spec's client_secret)."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key):
                found += [item] if isinstance(item, str) else _strings(item)
            else:
                found += secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found += secret_values(item)
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


# -- the scrubber ----------------------------------------------------------------------
def wire_forms(secret: str) -> set[str]:
    """The secret as typed and trimmed, URL-encoded, and base64 at each of the three
    alignments it can take inside a longer encoded string (without the edge characters
    that also encode its neighbours)."""
    forms = {secret, secret.strip()}
    for value in list(forms):
        for encoded in (quote(value, safe=""), quote_plus(value, safe="")):
            forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), encoded)}
        raw = value.encode()
        for pad in range(3):
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                text = encode(b"\0" * pad + raw).decode().rstrip("=")
                start = (0, 2, 3)[pad]
                end = len(text) - (1 if (pad + len(raw)) % 3 else 0)
                forms.add(text[start:end])
    return {f for f in forms if len(f) >= MIN_FRAGMENT}


def _grams(text: str) -> set[str]:
    return {text[i : i + MIN_FRAGMENT] for i in range(len(text) - MIN_FRAGMENT + 1)}


class Scrubber:
    """Blanks fragments of `secrets` and whole occurrences of `wholes` in any text."""

    def __init__(self, grams: Iterable[str] | Mapping[str, int] = (), wholes: Iterable[str] = ()) -> None:
        # A Mapping is used live (the process-wide registry below); anything else is frozen.
        self.grams: Mapping[str, int] | frozenset[str] = grams if isinstance(grams, Mapping) else frozenset(grams)
        self.wholes = tuple(wholes)
        # Short texts come back poll after poll (names, states, dates): their answer is kept,
        # unless the grams are the live registry's, which change.
        self._seen: dict[str, str] | None = None if isinstance(grams, Mapping) else {}

    def scrub(self, text: str) -> str:
        """`text` with every run of secret fragments replaced by REDACTED."""
        if not isinstance(text, str) or len(text) < MIN_FRAGMENT:
            return text
        seen = self._seen
        if seen is None or len(text) > SEEN_LENGTH:
            return self._scrub(text)
        clean = seen.get(text)
        if clean is None:
            clean = self._scrub(text)
            if len(seen) >= SEEN_TEXTS:
                seen.clear()
            seen[text] = clean
        # An unchanged text is answered with itself: callers keep what did not change by identity.
        return text if clean == text else clean

    @classmethod
    def of(cls, secrets: Iterable[str] = (), wholes: Iterable[str] = ()) -> Scrubber:
        grams: set[str] = set()
        for secret in secrets:
            for form in wire_forms(secret):
                grams |= _grams(form)
        return cls(grams, sorted({w.strip() for w in wholes if len(w.strip()) >= MIN_FRAGMENT}, key=len, reverse=True))

    @classmethod
    def for_credentials(cls, credentials: Mapping[str, str]) -> Scrubber:
        """An account's credentials: fragments of each, identifiers (username) whole."""
        secrets = [v for k, v in credentials.items() if isinstance(v, str) and not _is_identifier_key(k)]
        wholes = [v for k, v in credentials.items() if isinstance(v, str) and _is_identifier_key(k)]
        return cls.of(secrets, wholes)

    def plus(self, secrets: Iterable[str]) -> Scrubber:
        extra = Scrubber.of(secrets)
        if not extra.grams:
            return self
        return Scrubber(set(self.grams) | set(extra.grams), self.wholes)

    def _scrub(self, text: str) -> str:
        for whole in self.wholes:
            if whole in text:
                text = text.replace(whole, REDACTED)
        grams, n = self.grams, MIN_FRAGMENT
        if not grams:
            return text
        hits = [i for i in range(len(text) - n + 1) if text[i : i + n] in grams]
        if not hits:
            return text
        # Overlapping or touching fragments form one run: the run goes, not just its pieces.
        out: list[str] = []
        kept_to, start, end = 0, hits[0], hits[0] + n
        for i in hits[1:]:
            if i <= end:
                end = i + n
                continue
            out += [text[kept_to:start], REDACTED]
            kept_to, start, end = end, i, i + n
        out += [text[kept_to:start], REDACTED, text[end:]]
        return "".join(out)

    def scrub_value(self, value: Any) -> Any:
        """A vendor client's answer with every text in it scrubbed; identities (run keys,
        target ids) are kept as they are: they are sent back to the vendor. Unchanged parts
        are returned as the same objects."""
        kind = type(value)  # plain values first: a poll's answer is thousands of them
        if kind in _PLAIN:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, BaseException):
            self.scrub_exception(value)
            return value
        scrub, scrub_value = self.scrub, self.scrub_value
        if isinstance(value, dict):
            copy = None
            for key, item in value.items():
                if type(item) in _PLAIN:  # the leaves, without a call each
                    continue
                new = scrub(item) if type(item) is str else scrub_value(item)
                if new is not item:
                    copy = dict(value) if copy is None else copy
                    copy[key] = new
            return value if copy is None else copy
        if isinstance(value, list | tuple):
            items = [v if type(v) in _PLAIN else scrub(v) if type(v) is str else scrub_value(v) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return items if isinstance(value, list) else tuple(items)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for name in _said_fields(kind):
                old = getattr(value, name)
                new = self.scrub_value(old)
                if new is not old:
                    changes[name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value

    def scrub_exception(self, exc: BaseException) -> None:
        """Scrub an exception (and those it was raised from) in place: it is re-raised."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if isinstance(current, VendorError):
                current.message, current.code = self.scrub(current.message), self.scrub(current.code)
            if isinstance(current, InvalidSpec):
                current.errors = {k: self.scrub(v) for k, v in current.errors.items()}
            current.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in current.args)
            current = current.__cause__ or current.__context__


# Fields of the vendor contract (vendors/base.py) that identify things rather than say them.
IDENTITY_FIELDS = frozenset(
    {"target", "targets", "run_key", "run_keys", "external_id", "kind", "state", "flags", "open_runs", "gone"}
)
_PLAIN = frozenset({int, float, bool, type(None)})  # hold no text


@functools.cache
def _said_fields(cls: type) -> tuple[str, ...]:
    """A dataclass's fields that say something (scrubbed), read once per class."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in IDENTITY_FIELDS)


# -- the way out of vendors/ -------------------------------------------------------------
# VendorClient methods that talk to the vendor: what they return or raise is scrubbed.
# The local ones answer from our own rules, and validate_create's answer is sent on to the
# vendor: scrubbing it would break it. A test keeps every public method in one of the two.
LOCAL_CALLS = frozenset(
    {"create_fields", "describe_create", "validate_create", "close", "error_parser", "capabilities_for", "cadence_for",
     "adapter_class", "operations_for", "operation", "facts_for", "asks_open_runs"}
)  # fmt: skip
VENDOR_CALLS = frozenset(
    {"poll", "call", "check_credentials", "create", "cancel", "pause", "resume", "run_now", "perform"}
)  # fmt: skip


class ScrubbedClient:
    """A vendor client seen through its account's scrubber; secrets in a call's own
    arguments (a create spec's client_secret) are scrubbed from its answer too."""

    def __init__(self, client: Any, scrubber: Scrubber) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_scrubber", scrubber)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        return partial(self._call, attr) if name in VENDOR_CALLS else attr

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        scrubber = self._scrubber.plus(secret_values([args, kwargs]))
        token = _active.set(scrubber)  # log lines written during the call know the spec's secrets
        try:
            return scrubber.scrub_value(method(*args, **kwargs))
        except BaseException as exc:
            scrubber.scrub_exception(exc)
            raise
        finally:
            _active.reset(token)


# -- what this process knows, for the log ------------------------------------------------
_lock = threading.Lock()
_owners: dict[str, tuple[tuple[tuple[str, str], ...], frozenset[str]]] = {}
# gram -> how many owners' secrets hold it. Identifiers (usernames) are not kept here:
# they are no secret, and a log that blanks every "admin" helps nobody.
_gram_owners: dict[str, int] = {}
_known = Scrubber(_gram_owners)
_active: contextvars.ContextVar[Scrubber | None] = contextvars.ContextVar("scrubber", default=None)


def remember(owner: str, credentials: Mapping[str, str]) -> None:
    """This process holds these credentials (decrypted for `owner`): keep them out of the log.
    New values for the same owner replace the old ones."""
    key = tuple(sorted((k, v) for k, v in credentials.items() if isinstance(v, str)))
    current = _owners.get(owner)
    if current is not None and current[0] == key:
        return
    grams = frozenset(Scrubber.for_credentials(dict(key)).grams)
    with _lock:
        old = _owners.get(owner)
        _owners[owner] = (key, grams)
        for gram in old[1] if old is not None else ():
            if (n := _gram_owners.get(gram, 0) - 1) > 0:
                _gram_owners[gram] = n
            else:
                _gram_owners.pop(gram, None)
        for gram in grams:
            _gram_owners[gram] = _gram_owners.get(gram, 0) + 1


@contextlib.contextmanager
def forgotten_on_exit() -> Iterator[None]:
    """What is remembered inside is forgotten on leaving (tests: one test's secrets, often
    plain words, must not blank the next test's log lines)."""
    with _lock:
        owners, grams = dict(_owners), dict(_gram_owners)
    try:
        yield
    finally:
        with _lock:
            _owners.clear()
            _owners.update(owners)
            _gram_owners.clear()
            _gram_owners.update(grams)


def scrub_known(text: str) -> str:
    """`text` without any secret this process has seen (and those of the call under way)."""
    text = _known.scrub(text)
    active = _active.get()
    return active.scrub(text) if active is not None else text


def _scrub_record(record: logging.LogRecord) -> None:
    if not (_gram_owners or _active.get() is not None):
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it at emit time
        return
    clean = scrub_known(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        clean = scrub_known(text)
        if clean != text:
            record.exc_text = clean  # formatters use it instead of formatting the traceback again
    if record.stack_info:
        record.stack_info = scrub_known(record.stack_info)


def install_log_scrubbing() -> None:
    """Scrub every log record as it is made. A record factory rather than a handler filter:
    handlers added by others (Celery's, pytest's) see the record clean too."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "scrubs_secrets", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub_record(record)
        return record

    factory.scrubs_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)

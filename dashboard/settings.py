"""Settings come from the environment (and a `.env` file); bad values fail loudly.

Every setting is documented in README.md ("Settings"). Times are UTC everywhere; local
time only appears when a page renders.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from dashboard.envvars import boolean, env, hosts_or_networks, networks, positive, secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

environ.Env.read_env(BASE_DIR / ".env", overwrite=False)  # into os.environ, before any value is read

DEBUG = boolean("DEBUG", False)
TESTING = boolean("TESTING", False)

INSECURE_SECRET_KEY = "insecure-development-key-do-not-use-in-production"
SECRET_KEY = secret("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = INSECURE_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG or TESTING else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "dashboard.auditing.csrf_failure"  # Django's page, marked for the audit log
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "ninja",  # its static files: the API docs page's Swagger UI, served from here, not a CDN
    "jobs",
    "dashboard",
]

MIDDLEWARE = [
    # Outermost: compresses every HTML and JSON answer the browser accepts gzip for; streamed
    # answers (CSV) stay streamed, chunk by chunk. Django's gzip pads against BREACH.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # outside everything: every response carries the policy
    "dashboard.views.health.HealthzFirstMiddleware",  # before sessions: /healthz must not need the database
    "dashboard.upload_limit.RequestSizeLimitMiddleware",  # before anything reads a body
    "dashboard.inputs.InputMiddleware",  # before sessions: NUL in a cookie, path or query is a 400, not a failed query
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.auditing.AuditMiddleware",  # after auth: names who acts, audits every 403 to a signed-in user
    "dashboard.access.RoleRequiredMiddleware",  # signed in without a role: 403 everywhere
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.timezones.TimezoneMiddleware",  # after auth: a person's own zone wins
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

if DEBUG or TESTING:  # runserver and the test live server serve static files themselves
    MIDDLEWARE.remove("whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# Zero-setup default: SQLite under var/. Production and the test suite: PostgreSQL.
try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
except Exception as exc:  # django-environ raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Celery closes a task's database connections after every task (celery#9824): without
    # a pool every poll opened a new PostgreSQL connection (a backend forked, caches cold).
    # Django's own pool takes them back instead; each process keeps its own (ADR 9).
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3.0),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # Checked before use (with the pool: on every checkout), so a restarted server costs
    # nothing but a reconnect.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # The zero-setup demo runs web, worker threads and beat on one SQLite file: take the
    # write lock up front (no lock-upgrade deadlocks) and let readers run beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses while an address/user is locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Repeated failed logins lock that user name from that address out for a while (logged).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind a reverse proxy: the proxies' addresses or ranges. Their X-Forwarded-For names the
# client (dashboard/clientip.py); from anyone else the header is ignored.
TRUSTED_PROXIES = networks("TRUSTED_PROXIES", [])
AXES_CLIENT_IP_CALLABLE = "dashboard.clientip.client_ip"
# API tokens live this many days unless issued with another lifetime (create_api_token --days).
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=90)
if not 1 <= API_TOKEN_DAYS <= 3650:
    raise ImproperlyConfigured(f"API_TOKEN_DAYS must be 1 to 3650 days, got {API_TOKEN_DAYS}")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Credentials at rest --------------------------------------------------------------
# Fernet keys, comma-separated, newest first: the first encrypts, all of them decrypt.
_key_file = VAR_DIR / "credentials.key"
CREDENTIALS_KEYS = [k.strip() for k in env.list("CREDENTIALS_KEY", default=[]) if k.strip()]
if not CREDENTIALS_KEYS and (DEBUG or TESTING) and _key_file.exists():
    CREDENTIALS_KEYS = [_key_file.read_text().strip()]
if not CREDENTIALS_KEYS:
    if TESTING:
        CREDENTIALS_KEYS = ["dGVzdC1rZXktZm9yLXRoZS10ZXN0LXN1aXRlLW9ubHk="]
    else:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEY is not set. Generate one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
            " (make run creates var/credentials.key for local use)."
        )

# --- Celery ---------------------------------------------------------------------------
# With REDIS_URL unset, Celery uses a filesystem transport under var/ whose writes are atomic
# (dashboard/broker.py; kombu's own loses messages and kills the worker, celery/kombu#1551).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A message taken by a worker that died (acks_late) is handed out again after this.
    _visibility = env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility,
        # Sweep for abandoned messages about as often as they can expire.
        "unacked_restore_interval": min(10, _visibility),
        "unacked_restore_throttle": 1 if _visibility < 60 else 10,
    }
else:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "dashboard.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-poll leaves the task to another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule"))
CELERY_TASK_ALWAYS_EAGER = False
# Separate queues so polling never waits behind alert delivery or housekeeping; a worker
# may consume all of them (make run) or one (docker compose, several machines).
CELERY_TASK_DEFAULT_QUEUE = "polling"
CELERY_TASK_ROUTES = {
    "jobs.tasks.tick": {"queue": "polling"},
    "jobs.tasks.poll_account": {"queue": "polling"},
    "jobs.tasks.poll_shard": {"queue": "polling"},
    "jobs.tasks.send_alerts": {"queue": "alerts"},
    "jobs.tasks.housekeeping": {"queue": "housekeeping"},
    "jobs.tasks.make_partitions": {"queue": "housekeeping"},
    "jobs.tasks.process_upload": {"queue": "uploads"},
}

# --- Polling engine ----------------------------------------------------------------------
POLL_TICK_SECONDS = positive("POLL_TICK_SECONDS", 5)
POLL_ACTIVE_SECONDS = positive("POLL_ACTIVE_SECONDS", 15)
POLL_IDLE_SECONDS = positive("POLL_IDLE_SECONDS", 300)
POLL_ERROR_BACKOFF_MAX_SECONDS = positive("POLL_ERROR_BACKOFF_MAX_SECONDS", 1800)
POLL_LEASE_SECONDS = positive("POLL_LEASE_SECONDS", 120)
# One tick reads at most this many due pipelines (most overdue first, ADR 14) and hands
# the accounts it claims to workers in shards of POLL_SHARD_SIZE, one task each. It must
# exceed what one tick finds due: 1,000,000 pipelines a minute with 5 s ticks is 83,334.
POLL_TICK_MAX_PIPELINES = env.int("POLL_TICK_MAX_PIPELINES", default=100000)
POLL_SHARD_SIZE = env.int("POLL_SHARD_SIZE", default=200)
DISCOVERY_SECONDS = positive("DISCOVERY_SECONDS", 600)
# Every tick handles new state changes; every pipeline is re-checked for conditions that come
# with time or with the account (stuck, late, credentials broken) at most this often.
ALERT_SCAN_SECONDS = positive("ALERT_SCAN_SECONDS", 30)
# At most this many pipelines whose next check has come are looked at per scan (ADR 14).
ALERT_SCAN_BATCH = env.int("ALERT_SCAN_BATCH", default=5000)
STUCK_AFTER_SECONDS = positive("STUCK_AFTER_SECONDS", 3600)
# Learned stuck threshold: this many times the median duration of recent successes.
STUCK_HISTORY_FACTOR = positive("STUCK_HISTORY_FACTOR", 3)
STUCK_MIN_SECONDS = positive("STUCK_MIN_SECONDS", 900)
# Late: cadence + max(LATE_GRACE_MIN_SECONDS, cadence * LATE_GRACE_FRACTION) without a success.
LATE_GRACE_FRACTION = positive("LATE_GRACE_FRACTION", 0.5)
LATE_GRACE_MIN_SECONDS = positive("LATE_GRACE_MIN_SECONDS", 1800)
# Count checks: (dropped + failed) / processed above this raises a warning.
COUNT_WARNING_RATE = positive("COUNT_WARNING_RATE", 0.01)
# Retention (a daily housekeeping task): thin snapshots, drop raw payloads, poll log.
SNAPSHOT_RETENTION_DAYS = env.int("SNAPSHOT_RETENTION_DAYS", default=30)
RAW_RETENTION_DAYS = env.int("RAW_RETENTION_DAYS", default=14)
POLL_ATTEMPT_RETENTION_DAYS = env.int("POLL_ATTEMPT_RETENTION_DAYS", default=14)
# PostgreSQL: snapshots and poll attempts are partitioned by UTC day (ADR 17), made this many
# days ahead; DDL waits at most this long for its lock, else it is left for the next run.
PARTITION_DAYS_AHEAD = env.int("PARTITION_DAYS_AHEAD", default=7)
PARTITION_LOCK_TIMEOUT_MS = env.int("PARTITION_LOCK_TIMEOUT_MS", default=3000)
# How often open pages refresh their live parts (while something runs / otherwise).
LIVE_REFRESH_SECONDS = positive("LIVE_REFRESH_SECONDS", 5)
IDLE_REFRESH_SECONDS = positive("IDLE_REFRESH_SECONDS", 60)

VENDOR_CONNECT_TIMEOUT = positive("VENDOR_CONNECT_TIMEOUT", 5)
VENDOR_READ_TIMEOUT = positive("VENDOR_READ_TIMEOUT", 20)
VENDOR_TOTAL_TIMEOUT = positive("VENDOR_TOTAL_TIMEOUT", 30)
VENDOR_MAX_RESPONSE_BYTES = env.int("VENDOR_MAX_RESPONSE_BYTES", default=5 * 1024 * 1024)
VENDOR_HTTP_RETRIES = env.int("VENDOR_HTTP_RETRIES", default=2)
# Hosts an account's base_url may point at besides the vendors' own (the simulator).
VENDOR_HOST_ALLOWLIST = env.list(
    "VENDOR_HOST_ALLOWLIST", default=["127.0.0.1", "localhost"] if DEBUG or TESTING else []
)
# Alert channels reach public addresses only, plus these (internal webhooks): host names as
# written in the channel URL, IP addresses or CIDRs. Checked on save and before every send.
ALERT_CHANNEL_ALLOWED_HOSTS = hosts_or_networks("ALERT_CHANNEL_ALLOWED_HOSTS")
# A poll waits at most this long for the account's request budget, else it backs off.
RATE_LIMIT_MAX_WAIT_SECONDS = positive("RATE_LIMIT_MAX_WAIT_SECONDS", 2)

# --- Uploads (the create page's CSV / JSON files) ---------------------------------------
# A request body over UPLOAD_MAX_BYTES (plus room for the form's other fields) is refused
# with 413 before any of it is read. Files over FILE_UPLOAD_MAX_MEMORY_SIZE go to a temporary
# file, never memory; they are read as streams. Up to UPLOAD_SYNC_MAX_BYTES the rows are sent
# from the request, as before; larger files are stored and handed to the `uploads` queue.
UPLOAD_MAX_BYTES = int(positive("UPLOAD_MAX_BYTES", 200 * 1024 * 1024))
UPLOAD_SYNC_MAX_BYTES = int(positive("UPLOAD_SYNC_MAX_BYTES", 5 * 1024 * 1024))
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2621440  # Django's default, said out loud: the form's non-file fields

# --- Metrics ---------------------------------------------------------------------------
METRICS_TOKEN = secret("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = networks("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])

# --- Security --------------------------------------------------------------------------
# No inline scripts or styles anywhere, so no 'unsafe-inline': htmx comes from our static
# files and is told not to inject its indicator <style> (meta htmx-config in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = boolean("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)

# Mail (password reset, email alert channels): EMAIL_URL such as
# smtp+tls://user:password@smtp.example.com:587; the console in development.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG or TESTING else "smtp://localhost:25")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="pipewatch@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG and not TESTING:
    SESSION_COOKIE_SECURE = boolean("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Secure by default (behind a TLS-terminating proxy); the compose demo on plain
    # http://localhost turns these off explicitly.
    SECURE_SSL_REDIRECT = boolean("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes speak plain HTTP inside
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # The directive alone preloads nothing; submitting the domain to the list is a choice.
    SECURE_HSTS_PRELOAD = boolean("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

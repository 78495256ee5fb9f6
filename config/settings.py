"""Faultline's settings: every deploy-time value comes from the environment (see README)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from config.env import (
    data_dir,
    database_from_url,
    env_base_url,
    env_bool,
    env_choice,
    env_int,
    env_json_object,
    env_list,
    env_str,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir(BASE_DIR)

SECRET_KEY = secret_key(DATA_DIR / "secret_key")
DEBUG = env_bool("DEBUG", default=False)

FAULTLINE_BASE_URL = env_base_url("FAULTLINE_BASE_URL", "http://127.0.0.1:8000")
_base_host = urlsplit(FAULTLINE_BASE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", sorted({_base_host, "127.0.0.1", "localhost", "[::1]"}))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [FAULTLINE_BASE_URL])

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = FAULTLINE_BASE_URL.startswith("https://")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "organizations",
    "projects",
    "groups",
    "ingest",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", ""), sqlite_path=DATA_DIR / "faultline.sqlite3"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Uploaded files (event attachments): on the filesystem under the data directory by default;
# FILE_STORAGE_BACKEND names another Django storage class (e.g. django-storages' S3 one,
# installed beside Faultline) and FILE_STORAGE_OPTIONS its options as a JSON object.
MEDIA_ROOT = DATA_DIR / "files"
STORAGES = {
    "default": {
        "BACKEND": env_str("FILE_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env_json_object("FILE_STORAGE_OPTIONS"),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOG_LEVEL = env_choice(
    "LOG_LEVEL", default="info", choices=("debug", "info", "warning", "error", "critical")
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": env_choice("LOG_FORMAT", default="json", choices=("json", "text")),
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False}},
}

# How many seconds a Strict-Transport-Security header asks browsers to remember HTTPS.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "organizations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # sentry-cli parses a body only when Content-Type is exactly application/json.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON as Sentry's clients send it; forms too, for scripts using curl -d.
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONParser",
        "config.api.parsers.FormParser",
        "config.api.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["organizations.throttling.CredentialRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "default": f"{env_int('API_RATE_LIMIT_PER_MINUTE', default=1200, minimum=1)}/min"
    },
    "EXCEPTION_HANDLER": "config.api.exceptions.handle_exception",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_METADATA_CLASS": "config.api.metadata.ApiMetadata",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Faultline API",
    "DESCRIPTION": "Sentry-compatible management API (/api/0/).",
    "VERSION": "0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files from the sidecar package, served locally: no CDN for self-hosters.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Two "status" enums: an issue update's and the stored issue's (GroupStatus).
    "ENUM_NAME_OVERRIDES": {
        "IssueUpdateStatusEnum": [
            "resolved",
            "resolvedInNextRelease",
            "unresolved",
            "ignored",
            "muted",
        ],
        "IssueStatusEnum": "groups.models.GroupStatus",
    },
}

# Ingest limits (Relay's defaults; relay-config Limits::default).
INGEST_MAX_STORE_BYTES = env_int("INGEST_MAX_STORE_BYTES", default=1024 * 1024, minimum=1024)
INGEST_MAX_ENVELOPE_BYTES = env_int(
    "INGEST_MAX_ENVELOPE_BYTES", default=200 * 1024 * 1024, minimum=1024
)
INGEST_MAX_EVENT_BYTES = env_int("INGEST_MAX_EVENT_BYTES", default=1024 * 1024, minimum=1024)
# Largest OTLP export request (decompressed). It is decoded while the request waits: about
# 0.25 s of CPU and 25 MB of memory per MB of realistic protobuf, up to 90 MB per MB for a
# body of empty records; exporters' batches (512 spans) are a few hundred KB.
INGEST_MAX_OTLP_BYTES = env_int("INGEST_MAX_OTLP_BYTES", default=4 * 1024 * 1024, minimum=1024)
# Reports kept from one security or NEL endpoint request (browsers batch Reporting API reports).
INGEST_MAX_BROWSER_REPORTS = env_int("INGEST_MAX_BROWSER_REPORTS", default=100, minimum=1)
INGEST_MAX_ATTACHMENT_BYTES = env_int(
    "INGEST_MAX_ATTACHMENT_BYTES", default=100 * 1024 * 1024, minimum=1024
)
INGEST_MAX_ATTACHMENTS_BYTES = env_int(
    "INGEST_MAX_ATTACHMENTS_BYTES", default=200 * 1024 * 1024, minimum=1024
)
# All attachments of one project may take this much storage; past it, new ones are refused
# (counted as rate limited, and the SDK told to hold them back). 0 = no limit.
ATTACHMENTS_MAX_PROJECT_BYTES = env_int(
    "ATTACHMENTS_MAX_PROJECT_BYTES", default=10 * 1024 * 1024 * 1024
)
# How long a web process acts on a project's attachment usage (stored + queued) before
# summing it again; what the other processes accept meanwhile may overshoot the cap.
ATTACHMENTS_USAGE_CACHE_SECONDS = env_int("ATTACHMENTS_USAGE_CACHE_SECONDS", default=5)
# Item types that are counted but not stored (profiles, replays, metrics): X-Sentry-Rate-Limits
# on every envelope answer tells SDKs to stop sending them for this long.
INGEST_NOT_STORED_RETRY_AFTER_SECONDS = env_int(
    "INGEST_NOT_STORED_RETRY_AFTER_SECONDS", default=3600, minimum=1
)
# Moesif API-call events, decompressed: a batch (the clients document 250 KB, but the Node
# middleware sends 200-event batches with bodies; a few MB is closer to the real service) and
# one event (Moesif's 1 MB event limit).
MOESIF_MAX_BATCH_BYTES = env_int("MOESIF_MAX_BATCH_BYTES", default=5 * 1024 * 1024, minimum=1024)
MOESIF_MAX_EVENT_BYTES = env_int("MOESIF_MAX_EVENT_BYTES", default=1024 * 1024, minimum=1024)
# An API call's errors: events of the same user within this many seconds of the call.
API_CALL_ERROR_WINDOW_SECONDS = env_int("API_CALL_ERROR_WINDOW_SECONDS", default=60, minimum=1)
# How long ingest may act on a key (active flag, rate limit, project quotas) it looked up.
INGEST_KEY_CACHE_SECONDS = env_int("INGEST_KEY_CACHE_SECONDS", default=5)
# Backpressure: past this many undigested items, ingest answers 429 instead of accepting.
INGEST_MAX_BACKLOG_ITEMS = env_int("INGEST_MAX_BACKLOG_ITEMS", default=100_000, minimum=1)
INGEST_BACKLOG_RETRY_AFTER_SECONDS = env_int(
    "INGEST_BACKLOG_RETRY_AFTER_SECONDS", default=30, minimum=1
)
# Under a threaded server, the requests of one process that wait for their queue insert at
# the same moment share one statement and commit (ingest/groupcommit.py); a request whose
# rows are not committed within the timeout is answered 503.
INGEST_GROUP_COMMIT = env_bool("INGEST_GROUP_COMMIT", default=True)
INGEST_GROUP_COMMIT_TIMEOUT_SECONDS = env_int(
    "INGEST_GROUP_COMMIT_TIMEOUT_SECONDS", default=20, minimum=1
)
# Under gunicorn, how long ingest waits for the next bytes of a request body before it
# answers 408 and the connection is closed: without it, a client that stops in the middle
# of its body holds a web thread for good. It bounds each wait, not the whole upload. 20 s
# is far beyond a TCP retransmission or a mobile network's stall, and below gunicorn's
# `timeout` (30 s, config/gunicorn.py), so that a sync worker (WEB_THREADS=1), whose
# heartbeat stops while it waits, answers 408 before the arbiter kills it.
INGEST_BODY_READ_TIMEOUT_SECONDS = env_int(
    "INGEST_BODY_READ_TIMEOUT_SECONDS", default=20, minimum=1
)
# …and the slowest a whole body may come, as Apache's mod_reqtimeout has it: it must be read
# within that timeout plus one second per this many bytes received, or ingest answers 408.
# A client that trickles a byte now and then would otherwise renew the timeout at each one.
# 1000 bytes/s is 8 kbit/s, below any network an SDK sends from; 0 turns the rule off.
INGEST_BODY_MIN_RATE_BYTES_PER_SECOND = env_int(
    "INGEST_BODY_MIN_RATE_BYTES_PER_SECOND", default=1000, minimum=0
)
# The ASGI front door (ingest/asgi.py): request bodies it may hold at once per web process
# (past it, a request is answered 503 with Retry-After before its body is read), and the
# threads per process that run the SDK endpoints' views.
INGEST_MAX_BUFFERED_BODY_BYTES = env_int(
    "INGEST_MAX_BUFFERED_BODY_BYTES", default=256 * 1024 * 1024, minimum=1024 * 1024
)
INGEST_BUSY_RETRY_AFTER_SECONDS = env_int("INGEST_BUSY_RETRY_AFTER_SECONDS", default=5, minimum=1)
# The digest worker: items per batch (one transaction) and its sleep when the queue is empty.
DIGEST_BATCH_SIZE = env_int("DIGEST_BATCH_SIZE", default=250, minimum=1)
# …and at most this many queued (compressed) bytes per batch, so that a run of large
# attachments is not held in memory all at once; a single larger item is digested alone.
DIGEST_BATCH_MAX_BYTES = env_int("DIGEST_BATCH_MAX_BYTES", default=32 * 1024 * 1024, minimum=1024)
# Digest processes `manage.py serve` runs. On PostgreSQL several share the queue (SKIP
# LOCKED), which pays when events spread over many issues; batches that touch the same
# issues wait for each other's row locks, and SQLite has one writer at a time anyway.
DIGEST_WORKERS = env_int("DIGEST_WORKERS", default=1, minimum=1)
# Niceness `manage.py serve` adds to its digest workers (not gunicorn) on PostgreSQL: the web
# workers come first when both want the CPU; the backlog bound still applies.
DIGEST_NICENESS = env_int("DIGEST_NICENESS", default=10, minimum=0, maximum=19)
DIGEST_IDLE_SLEEP_MILLISECONDS = env_int("DIGEST_IDLE_SLEEP_MILLISECONDS", default=50, minimum=1)
# After a batch smaller than DIGEST_BATCH_SIZE, wait this long so that the next one is larger:
# per-batch work (one update per issue, the lookups) then spreads over more events.
DIGEST_BATCH_WAIT_MILLISECONDS = env_int("DIGEST_BATCH_WAIT_MILLISECONDS", default=200)
# Spans (transactions included) and log records are deleted this many days after they
# were received, by the digest workers' periodic maintenance.
SPAN_RETENTION_DAYS = env_int("SPAN_RETENTION_DAYS", default=30, minimum=1)
LOG_RETENTION_DAYS = env_int("LOG_RETENTION_DAYS", default=30, minimum=1)
# Behind a reverse proxy: take the client address from X-Forwarded-For (user IPs in events).
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", default=False)

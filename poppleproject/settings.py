"""Popple's settings. Every value comes from an environment variable; .env.example documents each.

With nothing set, Popple runs as one process on a SQLite file with Celery tasks executed inline.
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from poppleproject import rabbitmq, variables

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The test suite turns this off, so that a developer's .env cannot change what it tests.
if env.str("DJANGO_READ_DOT_ENV_FILE", default="true") != "false" and (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _config_error(name, problem):
    # One line naming the variable, no traceback: this is the operator's mistake, not a bug.
    return SystemExit(f"popple: configuration error: {name} {problem}")


def _raw(name):
    """The variable's value (or the contents of the file NAME_FILE names: a secret mounted as a
    file), or None when it is unset or empty (an empty line in .env)."""
    return variables.value(name).strip() or None


def _bool(name, default):
    raw = _raw(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _config_error(name, f"must be one of true/false/yes/no/on/off/1/0, not {raw!r}")


def _int(name, default, minimum=0):
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _config_error(name, f"must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise _config_error(name, f"must be at least {minimum}")
    return value


def _url(name, default=None, schemes=None):
    raw = _raw(name) or default
    if raw is None:
        return None
    scheme, sep, rest = raw.partition("://")
    if not sep or not rest or (schemes and scheme not in schemes):
        allowed = f" ({', '.join(sorted(schemes))})" if schemes else ""
        raise _config_error(name, f"must be a URL of the form scheme://...{allowed}")
    return raw


def _str(name, default=""):
    return _raw(name) or default


def _is_loopback(url):
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


DEBUG = _bool("DJANGO_DEBUG", False)

# An empty key makes Django refuse anything that signs data (sessions, CSRF), so the admin cannot
# run on a guessable key; the bot processes never sign anything and do not need one.
SECRET_KEY = _str("DJANGO_SECRET_KEY")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "django-insecure-development-only-key-set-DJANGO_SECRET_KEY-in-production"  # noqa: S105 (DEBUG only)

# In production only the configured names pass: a default of localhost would let in any remote
# client that sends "Host: localhost", and Django's host check is what stops a forged Host from
# reaching links built from it (password-reset mails, redirects). Empty, the admin answers 400 to
# everything (check --deploy says so); loopback health checks never need a name (see MIDDLEWARE).
ALLOWED_HOSTS = [
    host.strip()
    for host in _str("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "").split(",")
    if host.strip()
]

# Origins (scheme://host[:port]) that may POST to the admin besides its own address: needed when the
# proxy in front does not pass the browser's Host on.
CSRF_TRUSTED_ORIGINS = [origin.strip() for origin in _str("DJANGO_TRUSTED_ORIGINS").split(",") if origin.strip()]
for _origin in CSRF_TRUSTED_ORIGINS:
    _parts = urlsplit(_origin)
    if _parts.scheme not in {"http", "https"} or not _parts.hostname or _parts.path or _parts.query:
        raise _config_error(
            "DJANGO_TRUSTED_ORIGINS", f"must hold origins such as https://popple.example.org, not {_origin!r}"
        )

# Where the admin lives; a path nobody guesses keeps the scanners that try /admin/ away from it.
ADMIN_PATH = _str("DJANGO_ADMIN_PATH", "admin/")
if ADMIN_PATH.startswith("/") or not ADMIN_PATH.endswith("/"):
    raise _config_error(
        "DJANGO_ADMIN_PATH", f"must not start with / and must end with /, such as admin/, not {ADMIN_PATH!r}"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "karma",
    "botgateway",
    "monitoring",
    "leaderboard",
    # Before allauth, so that its templates (the login error page) replace allauth's.
    "dashboard",
    "axes",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.discord",
]

MIDDLEWARE = [
    # First: a health check from the machine itself (compose's probe calls
    # http://127.0.0.1:8000/healthz; a Kubernetes probe must run inside the container, an exec
    # probe, to count as one) is answered before the host check and the HTTPS redirect, which it
    # could not pass: its Host is an address, and it speaks plain HTTP. From elsewhere: 404.
    "monitoring.health.LoopbackHealthCheck",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # allauth's: it keeps the state of a login in progress.
    "allauth.account.middleware.AccountMiddleware",
    # A view that cannot reach the database answers 503 with Retry-After, not a 500 and a traceback.
    "poppleproject.unavailable.DatabaseUnavailable",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "poppleproject.urls"
WSGI_APPLICATION = "poppleproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# Database ------------------------------------------------------------------------------------


def database(name, url):
    """Django's database settings for `url`, tuned per engine; `name` is the variable it came from."""
    try:
        config = env.db_url_config(url)
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise _config_error(name, f"is not a database URL Django knows ({exc})") from None
    if config["ENGINE"].endswith("sqlite3"):
        config["OPTIONS"] = {
            # WAL lets readers (the admin) run while the bot writes; NORMAL syncs at checkpoints,
            # which survives a killed process. IMMEDIATE takes the write lock at BEGIN, so two
            # writers queue instead of failing with "database is locked" half-way through.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # A local file: keep the connection (Django's default reopens it, and reapplies the
        # pragmas above, around every request and task).
        config["CONN_MAX_AGE"] = None
    elif config["ENGINE"].endswith("mysql"):
        config["OPTIONS"] = {
            "charset": "utf8mb4",  # names may hold emoji
            "isolation_level": "read committed",  # Django's recommendation; no gap locks between workers
        }
        # Test databases get the same character set; names get an exact collation per column.
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
        # Workers keep their connection between tasks (a connect per task would cost more than
        # the task); health checks replace it after a database restart.
        config["CONN_MAX_AGE"] = 300
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {
    "default": database(
        "DATABASE_URL",
        _url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", schemes={"sqlite", "mysql", "mysql2"}),
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: cache and Celery result backend, both optional ---------------------------------------

REDIS_URL = _url("REDIS_URL", schemes={"redis", "rediss", "unix"})
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,  # redis://:PASSWORD@host:6379/0 (compose sets a password)
            # JSON, not pickle: what is read from Redis is data, never code (poppleproject/cache.py).
            "OPTIONS": {"serializer": "poppleproject.cache.JSONSerializer"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Replies held for Discord, its rate limits and what each channel was told are kept under
# popple:<REDIS_NAMESPACE>: (default: the bot's application id, from DISCORD_TOKEN), so that bots
# sharing one Redis keep apart (botgateway/discordapi.py: redis_prefix).
REDIS_NAMESPACE = _str("REDIS_NAMESPACE")
if REDIS_NAMESPACE and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", REDIS_NAMESPACE):
    raise _config_error("REDIS_NAMESPACE", "must be 1 to 64 letters, digits, dots, dashes or underscores")

# Celery (read by poppleproject/celery.py through the CELERY_ namespace) ----------------------

_broker_url = _url("CELERY_BROKER_URL", schemes={"amqp", "amqps", "pyamqp"})
# No broker: tasks run inline in the calling process, the one-process default. (Celery still
# wants a transport to serialize with; the in-memory one never touches the network.)
CELERY_TASK_ALWAYS_EAGER = _broker_url is None
CELERY_BROKER_URL = _broker_url or "memory://localhost/"
# Inline, a failing task is logged and the caller goes on, as a worker would; it does not take the
# bot down with it.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = REDIS_URL
# Nothing waits on a task's return value; storing it would cost a Redis write per task.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Karma changes and Discord replies have their own queues so that each can get its own workers.
# The queues exist on RabbitMQ before any Popple process starts (manage.py setup_rabbitmq): quorum
# queues with a delivery limit and a length limit; no process declares them.
CELERY_TASK_QUEUES = rabbitmq.task_queues()
# `declare: []`: a publish declares nothing. The queues say no_declare already, but Celery still
# hands each publish its queue to "maybe declare", and kombu binds a copy of the queue and hashes
# its repr every time before finding there is nothing to do (py-spy: a quarter of the karma
# workers' samples; bench/costs.py: their CPU per message 1.79 -> 1.69 ms, the gateway's 0.61 -> 0.57).
_ROUTES = {
    "karma.handle_message": "karma",
    "karma.handle_messages": "karma",
    "karma.handle_reaction": "karma",
    "karma.send_reply": "replies",
    "karma.send_replies": "replies",
    "karma.send_answer": "answers",  # beside `replies`, never behind its backlog (rabbitmq.py)
    "karma.post_log": "karma",
    "karma.handle_interaction": "karma",
    "karma.complete_interaction": "replies",
    "karma.apply_roles": "replies",
    "karma.server_event": "karma",
    "karma.message_deleted": "karma",
    "karma.forget_message_versions": "karma",
    "karma.anonymise_ledger": "karma",
    "karma.rollup_ledger": "karma",
    "karma.delete_departed_servers": "karma",
}
CELERY_TASK_ROUTES = {task: {"queue": queue, "declare": []} for task, queue in _ROUTES.items()}
CELERY_TASK_DEFAULT_QUEUE = "karma"
# Queues survive a broker restart, and so do the messages in them.
CELERY_TASK_QUEUE_DURABLE = True
CELERY_TASK_DEFAULT_DELIVERY_MODE = "persistent"
# The broker confirms each publish, so a message handed to RabbitMQ is not lost in a crash.
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Ack after the task ran, and requeue it if its worker dies: both tasks are idempotent, so a
# second run is safe, while an early ack would lose the message with the worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker takes one message per free thread (or process): a slow task holds nothing else back.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker started before RabbitMQ waits for it instead of exiting.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Heartbeats every 10 s (Celery's default is 120): a connection that died silently is cut and
# re-established within half a minute, not minutes.
CELERY_BROKER_HEARTBEAT = 10
# After a reconnect Celery lowers the prefetch count and raises it again one basic.qos at a time;
# on the threads pool the worker loop sometimes waited forever for one of those answers (py-spy:
# Channel.basic_qos), until missed heartbeats cut the connection 30 s later. With a prefetch of
# one task per thread there is little to protect, so the full count is set at once. (The wait
# itself is Celery's: a later prefetch change, from retries with a countdown, can still hit it.)
CELERY_WORKER_ENABLE_PREFETCH_COUNT_REDUCTION = False
# Tasks running when the broker connection drops finish, but their acks cannot be delivered, so
# the broker redelivers them; the idempotent tasks absorb the second run. (Cancelling them
# instead needs a pool that can terminate a task, which the threads pool cannot.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Task events feed Flower, and only Flower: each karma message cost four more broker messages
# (received, started, succeeded, for two tasks: 4.2 publishes to `celeryev` per message, bench/costs.py).
# So workers start without them, and Flower turns them on while it runs (it asks every workers to
# send them every 5 s: Flower's enable_events, on by default); they stay on until the worker
# restarts. A "sent" event from every publisher would cost two more (measured: 211 -> 187/s).
CELERY_WORKER_SEND_TASK_EVENTS = False
# ... sent without publisher confirms (poppleproject/consumer.py: Consumer says why).
CELERY_WORKER_CONSUMER = "poppleproject.consumer:Consumer"
CELERY_TASK_SEND_SENT_EVENT = False
# Celery closes the database connection around every task unless told to reuse it; reconnecting
# costs more than the task. poppleproject/worker_signals.py applies Django's own rules per task instead
# (CONN_MAX_AGE, health checks), as Django does per request.
CELERY_DB_REUSE_MAX = 1_000_000_000
# Django's LOGGING (with its token filter) stays in charge of the worker's logs.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The limits `manage.py setup_rabbitmq` puts on the task queues: redeliveries of a message that
# kills its worker before it goes to the dead-letter queue, and messages a queue holds before it
# refuses new ones (the gateway keeps them in its outbox meanwhile).
RABBITMQ_DELIVERY_LIMIT = _int("RABBITMQ_DELIVERY_LIMIT", 5, minimum=1)
RABBITMQ_MAX_QUEUE_LENGTH = _int("RABBITMQ_MAX_QUEUE_LENGTH", 100_000, minimum=1)

# Karma -----------------------------------------------------------------------------------------

# A message changes at most this many distinct subjects; the rest are ignored and the reply says so.
MAX_SUBJECTS_PER_MESSAGE = _int("MAX_SUBJECTS_PER_MESSAGE", 20, minimum=1)
# Seconds after a message is sent during which editing or deleting it changes the karma it gave.
EDIT_WINDOW = _int("EDIT_WINDOW", 24 * 3600, minimum=0)

# Retention (karma/retention.py) ----------------------------------------------------------------

# Ledger rows older than this many days forget who made the change (0: never). The cooldown (at
# most 7 days) and the budget (an hour) count a person's recent changes by their id in the ledger:
# a shorter retention would let people around them.
LEDGER_RETENTION_DAYS = _int("LEDGER_RETENTION_DAYS", 365)
if 0 < LEDGER_RETENTION_DAYS < 8:
    raise _config_error(
        "LEDGER_RETENTION_DAYS", "must be 0 (keep forever) or at least 8: the cooldown rule looks back up to 7 days"
    )
# Ledger rows older than this many days are rolled up into one row per server, name and day, and
# deleted (karma/ledger/rollup.py; 0: never). Edits, the cooldown and `top month` read the rows:
# karma/checks.py refuses fewer days than they need (31 with the default EDIT_WINDOW).
LEDGER_DETAIL_DAYS = _int("LEDGER_DETAIL_DAYS", 90)
# A server's data is deleted this many days after Popple left it (removed, or the server deleted),
# unless Popple is added back first. 0: at the next housekeeping run.
DEPARTED_SERVER_RETENTION_DAYS = _int("DEPARTED_SERVER_RETENTION_DAYS", 30)
# Seconds between housekeeping runs (Celery beat; `runbot` runs them itself).
HOUSEKEEPING_INTERVAL = _int("HOUSEKEEPING_INTERVAL", 3600, minimum=1)
# No expiry on the runs: RabbitMQ would move an expired one to the dead-letter queue, which is for
# messages that need a person's attention. Runs queued while the workers were down cost little:
# the first does the work, the copies after it find nothing to do.
CELERY_BEAT_SCHEDULER = "poppleproject.scheduler:Scheduler"
CELERY_BEAT_SCHEDULE = {
    name: {"task": name, "schedule": HOUSEKEEPING_INTERVAL}
    for name in (
        "karma.anonymise_ledger",
        "karma.rollup_ledger",
        "karma.delete_departed_servers",
        "karma.forget_message_versions",
    )
}

# Discord -------------------------------------------------------------------------------------

# Checked by the processes that talk to Discord, when they start; `chat` and the admin need none.
DISCORD_TOKEN = _str("DISCORD_TOKEN")
DISCORD_API_BASE_URL = _url("DISCORD_API_BASE_URL", default="https://discord.com/api/v10", schemes={"http", "https"})
DISCORD_GATEWAY_URL = _url("DISCORD_GATEWAY_URL", default="wss://gateway.discord.gg/", schemes={"ws", "wss"})
# The token travels in every REST call's Authorization header and in the gateway's IDENTIFY: only
# encrypted, unless to this machine (the tests' fake Discord, a local proxy).
if not DISCORD_API_BASE_URL.startswith("https://") and not _is_loopback(DISCORD_API_BASE_URL):
    raise _config_error(
        "DISCORD_API_BASE_URL", "must use https:// unless its host is this machine (the token travels in it)"
    )
if not DISCORD_GATEWAY_URL.startswith("wss://") and not _is_loopback(DISCORD_GATEWAY_URL):
    raise _config_error(
        "DISCORD_GATEWAY_URL", "must use wss:// unless its host is this machine (the token travels in it)"
    )
# The application's public key (developer portal -> General Information), hex: with it, the web
# process answers Discord's Interactions Endpoint URL at /interactions; without it, 404 there.
DISCORD_PUBLIC_KEY = _str("DISCORD_PUBLIC_KEY").strip().lower()
if DISCORD_PUBLIC_KEY and not re.fullmatch(r"[0-9a-f]{64}", DISCORD_PUBLIC_KEY):
    raise _config_error("DISCORD_PUBLIC_KEY", "must be the 64 hexadecimal digits Discord shows as the public key")
DISCORD_SHARD_COUNT = _int("DISCORD_SHARD_COUNT", 0)  # 0: let Discord recommend
# Whether the gateway asks for Discord's privileged Message Content intent, without which it cannot
# read `x++` in plain chat (botgateway/gateway.py). A gateway Discord refuses it (close code 4014)
# runs without it all the same.
DISCORD_MESSAGE_CONTENT = _bool("DISCORD_MESSAGE_CONTENT", True)
DISCORD_SHARD_IDS = _str("DISCORD_SHARD_IDS")  # "0,2" or "0-3"; parsed by the gateway
# Requests per second the bot may make, all processes together (Discord's default is 50; Discord
# raises it for large bots on request).
DISCORD_GLOBAL_RATE_LIMIT = _int("DISCORD_GLOBAL_RATE_LIMIT", 50, minimum=1)
# Seconds an announcement may wait for Discord's budget: later, it is said only merged into a
# newer post of its channel, or not at all (botgateway/delivery.py). Answers always go out.
ANNOUNCE_MAX_DELAY = _int("ANNOUNCE_MAX_DELAY", 60, minimum=1)

# "{shards}" becomes the shard ids this process runs, so that gateways sharing a disk keep apart.
GATEWAY_OUTBOX_PATH = _str("GATEWAY_OUTBOX_PATH", str(BASE_DIR / "var" / "outbox-{shards}.sqlite3"))
GATEWAY_OUTBOX_MAX = _int("GATEWAY_OUTBOX_MAX", 100_000, minimum=1)

# Flower reads it too (FLOWER_ variables are its own); `runflower` refuses to start without it.
FLOWER_BASIC_AUTH = _str("FLOWER_BASIC_AUTH")
# Where Flower listens: this machine only, unless a proxy or a container's port mapping needs more.
FLOWER_ADDRESS = _str("FLOWER_ADDRESS", "127.0.0.1")
# Prometheus metrics (monitoring/metrics.py): off unless a port is given; this machine only unless
# an address is given too (a pod listens on 0.0.0.0 for Prometheus to scrape).
METRICS_PORT = _int("METRICS_PORT", 0)
METRICS_ADDRESS = _str("METRICS_ADDRESS", "127.0.0.1")

# Web -----------------------------------------------------------------------------------------

STATIC_URL = "static/"
# Serve the admin's files straight from the installed apps: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# The languages Popple answers in (karma/language.py picks a server's); their catalogs are under
# locale/, compiled (.mo) and committed, so that no process needs GNU gettext to run.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español"), ("pt-br", "Português")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The proxy in front terminates TLS and says so in X-Forwarded-Proto. Django believes the header
# only when told to: the proxy must set it on every request, overwriting what a client sent,
# or a client could pass plain HTTP off as HTTPS.
BEHIND_TLS_PROXY = _bool("DJANGO_BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if not DEBUG:
    # The admin is HTTPS only: plain HTTP is redirected, cookies never travel unencrypted, and
    # browsers that saw it once refuse plain HTTP for a year (this host and its subdomains).
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
# HSTS "preload" asks browsers to ship the host in their built-in HTTPS-only list, which anyone may
# then submit it to and which takes months to leave: the domain's owner decides that, not Popple,
# so the header never carries it and check --deploy's reminder about it (W021) is silenced.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Even with DJANGO_DEBUG on, the error page shows no password: Django hides settings named like
# KEY, SECRET, PASS, TOKEN or AUTH (FLOWER_BASIC_AUTH); URLs and cache locations hold them too
# (CELERY_BROKER_URL, REDIS_URL, DATABASE_URL in the environment), and so does the result backend.
DEFAULT_EXCEPTION_REPORTER_FILTER = "poppleproject.errorreports.HideCredentials"

# Logins to the admin (django-axes) --------------------------------------------------------------

# Axes' backend goes first: it refuses a locked-out login before the password is even checked.
# allauth's is the one a Discord login is recorded with (the dashboard); it checks passwords as
# Django's does, so the admin's login is the same with it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AXES_FAILURE_LIMIT = _int("DJANGO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
# 0: locked until an admin deletes the access attempt in the admin.
_cooloff = _int("DJANGO_LOGIN_COOLOFF_MINUTES", 60)
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff) if _cooloff else None
# A username is locked from the address that failed, not everywhere: guessing from one place is
# stopped, and nobody can lock the real admin out by failing on purpose from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a typo now and then never adds up to a lockout
# Each failure and lockout is still logged; only the startup banner in every process is not.
AXES_VERBOSE = False
# The client's address: behind the proxy, the last X-Forwarded-For entry, the one the proxy itself
# added (ipware counts only proxies listed in the header, and ours is in REMOTE_ADDR, hence 0;
# not strict, so that entries a client made up before it are skipped rather than voiding the
# header). Without a proxy the header is the client's own invention and is ignored.
if BEHIND_TLS_PROXY:
    AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...] = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = 0
    IPWARE_STRICT = False
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# The moderators' dashboard (dashboard/): log in with Discord ----------------------------------

# The application's OAuth2 client (developer portal -> OAuth2). Both, or neither: without them the
# dashboard is off and says so, and nothing else changes.
DISCORD_CLIENT_ID = _str("DISCORD_CLIENT_ID")
DISCORD_CLIENT_SECRET = _str("DISCORD_CLIENT_SECRET")
if bool(DISCORD_CLIENT_ID) != bool(DISCORD_CLIENT_SECRET):
    raise _config_error(
        "DISCORD_CLIENT_ID" if not DISCORD_CLIENT_ID else "DISCORD_CLIENT_SECRET",
        "must be set too: the dashboard needs both DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET",
    )
if DISCORD_CLIENT_ID and not DISCORD_CLIENT_ID.isdigit():
    raise _config_error("DISCORD_CLIENT_ID", "must be the application's id, digits only")
DASHBOARD_ENABLED = bool(DISCORD_CLIENT_ID)
# Discord's consent page: a web page, not the API (the tests point it at their double).
DISCORD_OAUTH_AUTHORIZE_URL = _url(
    "DISCORD_OAUTH_AUTHORIZE_URL", default="https://discord.com/oauth2/authorize", schemes={"http", "https"}
)
if not DISCORD_OAUTH_AUTHORIZE_URL.startswith("https://") and not _is_loopback(DISCORD_OAUTH_AUTHORIZE_URL):
    raise _config_error("DISCORD_OAUTH_AUTHORIZE_URL", "must use https:// unless its host is this machine")
SOCIALACCOUNT_PROVIDERS = {
    "discord": {
        # allauth's Discord provider, with Discord's URLs from DISCORD_API_BASE_URL and the one above.
        "provider_class": "dashboard.discordlogin.provider.DiscordProvider",
        # Who the person is, and the servers they are in with their permissions there: nothing more
        # (no email, no bot, no joining servers for them).
        "SCOPE": ["identify", "guilds"],
        "OAUTH_PKCE_ENABLED": True,
        "APP": {"client_id": DISCORD_CLIENT_ID, "secret": DISCORD_CLIENT_SECRET, "key": ""},
    }
}
SOCIALACCOUNT_ADAPTER = "dashboard.discordlogin.adapter.DiscordLoginAdapter"
ACCOUNT_ADAPTER = "dashboard.discordlogin.adapter.NoLocalAccounts"
# The access token lives in the person's server-side session only, for re-reading their servers'
# permissions, and is revoked at logout: never in allauth's token table.
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_QUERY_EMAIL = False
ACCOUNT_EMAIL_VERIFICATION = "none"
# A login starts with a POST from the dashboard's page (CSRF-checked): a link elsewhere cannot log
# someone in with an account of the attacker's choosing.
SOCIALACCOUNT_LOGIN_ON_GET = False
LOGIN_URL = "dashboard:home"
LOGIN_REDIRECT_URL = "dashboard:home"

# Logging -------------------------------------------------------------------------------------

LOG_LEVEL = _str("LOG_LEVEL", "INFO").upper()
DISCORD_LOG_LEVEL = _str("DISCORD_LOG_LEVEL", "WARNING").upper()
for _name, _level in (("LOG_LEVEL", LOG_LEVEL), ("DISCORD_LOG_LEVEL", DISCORD_LOG_LEVEL)):
    if _level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise _config_error(_name, "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "no_traceback_when_expected": {"()": "poppleproject.logfilters.NoTracebackWhenExpected"},
        "redact_secrets": {"()": "poppleproject.logfilters.RedactSecrets"},  # last: what it reads is final
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_traceback_when_expected", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # discord.py logs every gateway event at DEBUG, and its INFO lines repeat ours (ready,
        # resumed): WARNING unless DISCORD_LOG_LEVEL asks for more; its warnings and errors stay.
        "discord": {"level": DISCORD_LOG_LEVEL},
        # One "Task ... succeeded" line per task is noise at hundreds of messages a second, and
        # costs CPU on the hot path; failures still log, and Flower shows every task.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},  # "Task ... received", likewise
    },
}

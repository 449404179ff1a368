"""ccbridge settings, read from the environment (see the README's table).

Defaults run the whole product on one machine with no services: SQLite and a
filesystem broker under var/, the Graph simulator on loopback. Setting
DATABASE_URL, REDIS_URL and the GRAPH_* variables points the same code at
PostgreSQL, Redis and Microsoft.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.csp import CSP

from config.env import env_bool, env_int, env_list, env_str, require_in_production
from config.queues import queues_by_role, task_routes

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CCBRIDGE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Off unless asked for: `make run`, the tests and the bench set DJANGO_DEBUG=true.
DEBUG = env_bool("DJANGO_DEBUG", False)
# Each of these has a development default that must never reach production.
require_in_production(
    ("SECRET_KEY", "CCBRIDGE_ENCRYPTION_KEYS", "GRAPH_AUTHORITY_HOST", "GRAPH_BASE_URL"),
    debug=DEBUG,
)
SECRET_KEY = env_str("SECRET_KEY") or "dev-only-insecure-key-never-used-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # the API docs page: its template and Swagger UI static files
    "axes",
    "integrations",
    "accounts",
    "presence",
    "chat",
    "mailboxes",
    "console",
]
# The demo contact center and demo seed of `make run`: on with DEBUG unless CCBRIDGE_DEMO
# says otherwise; never on in production unless asked for.
CCBRIDGE_DEMO = env_bool("CCBRIDGE_DEMO", DEBUG)
if CCBRIDGE_DEMO:
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.shell",
            ],
            "builtins": ["django_htmx.templatetags.django_htmx"],
        },
    }
]

# --- Database -------------------------------------------------------------
_SQLITE_DEFAULT = f"sqlite:///{VAR_DIR / 'ccbridge.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", _SQLITE_DEFAULT))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers and a writer
    # coexist, IMMEDIATE makes writers queue instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file (not :memory:) so a real worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-ccbridge.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker, cache ----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # kombu's filesystem transport: a broker that needs no server. It has no
    # fanout exchanges, so worker remote control is switched off with it.
    CELERY_BROKER_URL = "filesystem://"
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu's default: sleep 1 s whenever no message could be taken (the
        # worker's prefetch full included), which drains about 2 tasks/s.
        "polling_interval": 0.1,
    }
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "ccbridge")
# Interactive jobs, presence sync and bulk work each on a queue of their own
# (config/queues.py), named after CELERY_QUEUE: {role: queue name}.
TASK_QUEUES = queues_by_role(CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = task_routes(CELERY_TASK_DEFAULT_QUEUE)
# The dashboard warns when a queue's oldest message has waited longer than this.
QUEUE_WAIT_WARNING_SECONDS = env_int("QUEUE_WAIT_WARNING_SECONDS", 30)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
HEARTBEAT_INTERVAL_SECONDS = env_int("HEARTBEAT_INTERVAL_SECONDS", 10)
HEARTBEAT_STALE_AFTER_SECONDS = env_int("HEARTBEAT_STALE_AFTER_SECONDS", 60)
# How often agents no subscription watches are reconciled (getPresencesByUserId).
PRESENCE_RECONCILE_INTERVAL_SECONDS = env_int("PRESENCE_RECONCILE_INTERVAL_SECONDS", 300)
# Jobs whose worker died, or whose queued message Redis lost, are sent again
# (integrations/jobs.py): a running job silent for JOB_STALE_AFTER_SECONDS, a queued
# one nobody took for JOB_QUEUED_RESEND_SECONDS; failed after JOB_MAX_ATTEMPTS.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 20)
JOB_STALE_AFTER_SECONDS = env_int("JOB_STALE_AFTER_SECONDS", 120)
JOB_QUEUED_RESEND_SECONDS = env_int("JOB_QUEUED_RESEND_SECONDS", 600)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
# A static schedule: the beat process reads it at start (no database scheduler).
CELERY_BEAT_SCHEDULE = {
    "jobs-recover": {
        "task": "integrations.jobs.recover_stranded",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "worker-heartbeat": {
        "task": "console.health.heartbeat_record",
        "schedule": float(HEARTBEAT_INTERVAL_SECONDS),
        "options": {"expires": float(HEARTBEAT_INTERVAL_SECONDS)},
    },
    "directory-sync-when-due": {
        "task": "accounts.directory.sync_when_due",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "refresh-account-token": {
        "task": "integrations.account.refresh_token",
        "schedule": float(env_int("TOKEN_REFRESH_INTERVAL_SECONDS", 300)),
    },
    # Presence subscriptions: create, renew (within 15 min of expiry), repair.
    "presence-subscriptions-maintain": {
        "task": "presence.subscriptions.maintain",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # A long-held ACD state: renew the app's presence session before Teams drops it.
    "presence-sessions-refresh": {
        "task": "presence.to_teams.sessions_refresh",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Agents no active subscription watches: read their presence with getPresencesByUserId.
    "presence-reconcile-unwatched": {
        "task": "presence.to_acd.reconcile",
        "schedule": float(PRESENCE_RECONCILE_INTERVAL_SECONDS),
        "kwargs": {"reason": "scheduled"},
        "options": {"expires": float(PRESENCE_RECONCILE_INTERVAL_SECONDS)},
    },
}

# --- Microsoft Graph and identity platform ---------------------------------
# With DEBUG on, defaults point at the bundled simulator started by `make run`;
# production must set https://login.microsoftonline.com and
# https://graph.microsoft.com/v1.0 (start-up refuses otherwise) and trusts the
# standard CA bundle unless GRAPH_CA_BUNDLE names another.
_SIMULATOR = f"https://127.0.0.1:{env_int('GRAPHSIM_PORT', 8443)}"
GRAPH_AUTHORITY_HOST = env_str("GRAPH_AUTHORITY_HOST") or _SIMULATOR
GRAPH_BASE_URL = env_str("GRAPH_BASE_URL") or f"{_SIMULATOR}/v1.0"
GRAPH_CA_BUNDLE = env_str("GRAPH_CA_BUNDLE", str(VAR_DIR / "graphsim" / "ca.pem") if DEBUG else "")

# Fernet keys for secrets at rest, newest first (see integrations/crypto.py).
# The development default is derived from the development SECRET_KEY.
CCBRIDGE_ENCRYPTION_KEYS = env_list("CCBRIDGE_ENCRYPTION_KEYS", []) or [
    "ZGV2LW9ubHkta2V5LWZvci1sb2NhbC1kZW1vcy0xMjM="
]
SECRET_EXPIRY_WARNING_DAYS = env_int("SECRET_EXPIRY_WARNING_DAYS", 15)
# This console's address as Microsoft reaches it: base of the Graph webhook
# (notificationUrl / lifecycleNotificationUrl). Production: public https://.
CCBRIDGE_PUBLIC_URL = env_str(
    "CCBRIDGE_PUBLIC_URL", f"http://127.0.0.1:{env_int('CCBRIDGE_PORT', 8000)}"
).rstrip("/")
# Alert emails (console/alerts), through Django 6.1's MAILERS. With EMAIL_HOST they go
# out over SMTP; without it (`make run`) they are written to the console log. Either
# way every one sent is also on the Alerts screen's outbox. In production EMAIL_HOST
# defaults to a mail server on this machine, as Django's did; an alert it refuses
# shows on the outbox as not sent.
_EMAIL_HOST = env_str("EMAIL_HOST", "" if DEBUG else "localhost")
MAILERS = {
    "default": (
        {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _EMAIL_HOST,
                "port": env_int("EMAIL_PORT", 587),
                "username": env_str("EMAIL_HOST_USER", ""),
                "password": env_str("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 20,
            },
        }
        if _EMAIL_HOST
        else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ccbridge@localhost")

# The redirect URI the setup page expects on the app registration; empty means
# CCBRIDGE_PUBLIC_URL + "/signin/".
SETUP_REDIRECT_URI = env_str("SETUP_REDIRECT_URI", "")

# --- Auth, sessions, security ----------------------------------------------
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"
LOGOUT_REDIRECT_URL = "console:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Static files, i18n ------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# In development whitenoise serves straight from the source folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Logging ------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Presence sync: Teams → contact center (Graph webhook, ACD deliveries) ----
# The Graph webhook refuses larger POSTs with 413 (Graph's batches are far smaller).
GRAPH_WEBHOOK_MAX_BODY_BYTES = env_int("GRAPH_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)
ACD_WEBHOOK_TIMEOUT_SECONDS = env_int("ACD_WEBHOOK_TIMEOUT_SECONDS", 5)
# A CA file for an ACD webhook behind a private CA; empty = the public trust store.
ACD_WEBHOOK_CA_BUNDLE = env_str("ACD_WEBHOOK_CA_BUNDLE", "")

# --- Expert chat (chat/) ---------------------------------------------------------------
# How long an expert has to answer an invitation (the API may ask for 15..900 s).
CHAT_INVITATION_TIMEOUT_SECONDS = env_int("CHAT_INVITATION_TIMEOUT_SECONDS", 120)
# How long a signed image link handed to the contact center stays valid.
CHAT_MEDIA_LINK_MAX_AGE_SECONDS = env_int("CHAT_MEDIA_LINK_MAX_AGE_SECONDS", 600)
# Invitations whose timer task was lost (a worker restart) lapse with this sweep.
CELERY_BEAT_SCHEDULE["chat-invitations-expire"] = {
    "task": "chat.conference.invitations_expire_due",
    "schedule": 30.0,
    "options": {"expires": 30.0},
}
# The chat-message subscription: create, renew before expiry, repair.
CELERY_BEAT_SCHEDULE["chat-subscription-maintain"] = {
    "task": "chat.subscription.maintain",
    "schedule": 60.0,
    "options": {"expires": 60.0},
}

# The setup checks run every night, so a secret about to expire or a consent
# withdrawn in Azure shows before users notice.
CELERY_BEAT_SCHEDULE["setup-checks-nightly"] = {
    "task": "integrations.setup.run_nightly",
    "schedule": crontab(hour=env_int("SETUP_CHECKS_HOUR", 2), minute=30),
    "options": {"expires": 3600.0},
}

CELERY_BEAT_SCHEDULE["alerts-evaluate"] = {
    "task": "console.alerts.evaluate",
    "schedule": 60.0,
    "options": {"expires": 60.0},
}

# --- Office 365 mailboxes (mailboxes/) ------------------------------------------------
# How long Test mailbox waits for its test message to arrive in the mailbox.
MAILBOX_TEST_ARRIVAL_SECONDS = env_int("MAILBOX_TEST_ARRIVAL_SECONDS", 60)
# How long a signed attachment link handed to the contact center stays valid.
MAIL_ATTACHMENT_LINK_MAX_AGE_SECONDS = env_int("MAIL_ATTACHMENT_LINK_MAX_AGE_SECONDS", 600)
# The most attachment bytes one message sent through the API may carry (decoded); the
# API's 2 MB body limit holds about 1.5 MB of base64-encoded files.
MAIL_SEND_MAX_ATTACHMENT_BYTES = env_int("MAIL_SEND_MAX_ATTACHMENT_BYTES", 1_500_000)
# The safety net: every mailbox's inbox is read back this often (delta from the last link).
MAILBOX_CATCH_UP_INTERVAL_SECONDS = env_int("MAILBOX_CATCH_UP_INTERVAL_SECONDS", 60)
CELERY_BEAT_SCHEDULE["mailboxes-catch-up"] = {
    "task": "mailboxes.inbound.catch_up_all",
    "schedule": float(MAILBOX_CATCH_UP_INTERVAL_SECONDS),
    "options": {"expires": float(MAILBOX_CATCH_UP_INTERVAL_SECONDS)},
}

CELERY_BEAT_SCHEDULE["acd-deliveries-retry"] = {
    "task": "presence.to_acd.deliveries_retry",
    "schedule": 15.0,
    "options": {"expires": 15.0},
}

# --- Sign-in throttling (django-axes) ------------------------------------------------
# The lockout backend (django-axes' AxesStandaloneBackend) refuses a locked-out
# username+address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "console.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
# Username and address together: an attacker elsewhere cannot lock a colleague out,
# and one address guessing many usernames is caught per username.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the lockout; retrying during it does not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "console.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.ratelimit.client_ip"
# How many proxies in front of the console append to X-Forwarded-For (0: use REMOTE_ADDR).
CLIENT_IP_PROXY_COUNT = env_int("CLIENT_IP_PROXY_COUNT", 0)

# --- Rate limits (config/ratelimit.py; counted in the cache) ----------------------
RATELIMIT_KEY_PREFIX = "ratelimit"
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 6000)
WEBHOOK_REJECT_LIMIT_PER_MINUTE = env_int("WEBHOOK_REJECT_LIMIT_PER_MINUTE", 60)

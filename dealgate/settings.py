"""Django settings for Dealgate, read from the environment in one place.

Every setting has a default that runs on SQLite out of the box; see the README's
configuration section for the variables.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DEALGATE_VAR_DIR", BASE_DIR / "var"))

PLACEHOLDER_SECRET = "dealgate-development-only-not-a-secret"


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable; anything but the listed words is an error."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no; got {raw!r}"
    )


def env_number(
    name: str, default: int | float, *, kind: type = int, least: float = 0
) -> int | float:
    """A whole (or, with kind=float, any) number of at least `least` from
    NAME; empty or unset gives `default`. Anything else names the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ImproperlyConfigured(f"{name} must be {noun}; got {raw!r}") from None
    if not value >= least:
        raise ImproperlyConfigured(f"{name} must be at least {least}; got {raw!r}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# Seconds gunicorn gives a sync worker for one request, from accepting its
# connection to the last byte of the answer, before it kills the worker
# (`dealgate serve` sets it). The waits for a request's headers and body come
# out of it.
WORKER_TIMEOUT = 30


def env_wait(name: str, default: float) -> float:
    """Seconds from NAME that a worker waits for part of a request: greater
    than 0 and less than WORKER_TIMEOUT, past which gunicorn would kill the
    worker before the wait ends; empty or unset gives `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < WORKER_TIMEOUT:
        raise ImproperlyConfigured(
            f"{name} must be a number of seconds greater than 0 and less than "
            f"{WORKER_TIMEOUT} (the worker timeout); got {raw!r}"
        )
    return value


def env_log_level(name: str, default: str) -> str:
    """A logging level from NAME in any case (`info` is INFO); empty or unset
    gives `default`. Anything else names the variable and the levels."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.upper() not in LOG_LEVELS:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(LOG_LEVELS)} (any case); got {raw!r}"
        )
    return raw.upper()


def env_phone_region(name: str) -> str:
    """A two-letter region the phone library reads numbers in ("DE", any
    case), or "" when unset; a country's name or an unknown code is refused
    here rather than blamed on every phone number later."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    import phonenumbers

    if raw.upper() in phonenumbers.SUPPORTED_REGIONS:
        return raw.upper()
    if len(raw) == 2 and raw.isascii() and raw.isalpha():
        raise ImproperlyConfigured(
            f"{name} must be a region the phone library knows, such as DE, GB or "
            f"US; got {raw!r}, a two-letter code it does not know"
        )
    raise ImproperlyConfigured(
        f"{name} must be a two-letter region code such as DE, GB or US; got {raw!r}"
    )


# The characters of an HTTP header's name (RFC 9110's token).
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def env_header_name(name: str) -> str:
    """An HTTP header's name from NAME (`X-Real-IP`, or Django's
    `HTTP_X_REAL_IP`), or "" when unset. A value with a space, a colon or
    another character no header name holds would silently match no header:
    it is refused naming the variable."""
    raw = os.environ.get(name, "").strip()
    if raw and not HEADER_NAME.fullmatch(raw):
        raise ImproperlyConfigured(
            f"{name} must be a header's name, such as X-Real-IP or "
            f"X-Forwarded-For, without spaces, a colon or a value; got {raw!r}"
        )
    return raw


def checked_webhook_url(name: str, url: str) -> str:
    """`url` if it can take a webhook POST: http or https, a host, a valid
    port, no spaces or control characters. A user and password in it
    (`https://user:password@host/...`) are sent as HTTP Basic authentication
    (dealgate.clocks.outbox). The error names the variable but never repeats
    the URL, whose path and password are secrets."""
    if not url:
        return url
    problem = ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        problem = "it cannot be read as a URL (check the host and port)"
    else:
        if parts.scheme not in ("http", "https"):
            problem = f"it must start with https:// or http://, not {parts.scheme!r}"
        elif not parts.hostname:
            problem = "it names no host"
        elif any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            problem = "it holds a space or a control character"
    if problem:
        raise ImproperlyConfigured(f"{name} is not a usable webhook URL: {problem}")
    return url


def checked_site_url(name: str, url: str) -> str:
    """`url` without a final slash if it is an address people reach Dealgate
    at: http or https and a host. The error names the variable."""
    url = url.strip().rstrip("/")
    if not url:
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} cannot be read as a URL (check the host and port); got {url!r}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} must be https://HOST or http://HOST, such as "
            f"https://crm.example.com; got {url!r}"
        )
    return url


def proxy_addresses(name: str, default: str) -> list[str]:
    """The addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`) in the
    comma-separated NAME, each checked. `*` is refused, and so is a network
    that covers every address (`0.0.0.0/0`, `::/0`): either would let any
    client say it came over HTTPS and name its own address."""
    raw = os.environ.get(name, "").strip() or default
    found = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks (such as 10.0.0.5 or "
                f"10.0.0.0/24), comma-separated; {entry!r} is neither"
            ) from None
        if network.prefixlen == 0:
            raise ImproperlyConfigured(
                f"{name} must name the proxy's own addresses; {entry!r} covers "
                "every address, so any client could forge X-Forwarded-Proto and "
                "the client address header"
            )
        found.append(entry)
    return found


def env_secret(name: str) -> str:
    """A secret from NAME, or read from the file NAME_FILE names. Both set is
    refused: which one counts would be a guess, and a stale one may linger.
    Errors name the variable and the file, never the secret."""
    path = os.environ.get(f"{name}_FILE", "")
    if path and os.environ.get(name, ""):
        raise ImproperlyConfigured(
            f"{name} and {name}_FILE are both set; set only one ({name}_FILE "
            "keeps the secret out of the environment)"
        )
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE: cannot read {path} ({exc.strerror})"
            ) from None
        except UnicodeDecodeError:
            raise ImproperlyConfigured(
                f"{name}_FILE: {path} is not UTF-8 text"
            ) from None
    return os.environ.get(name, "")


def database_from_url(url: str) -> dict:
    """Turn `sqlite:///path` or `postgres://user:pw@host:port/name` into Django's.
    Anything else is refused quoting the URL, its password left out."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ImproperlyConfigured(
            f"DATABASE_URL cannot be read as a URL (check the host and port); got "
            f"{_without_password(url)!r}"
        ) from None
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        if parts.netloc:
            # sqlite://var/x.sqlite3 would read "var" as a host and open
            # ./x.sqlite3: a database nobody meant, made empty.
            raise ImproperlyConfigured(
                f"DATABASE_URL {_without_password(url)!r} names a host "
                f"({parts.netloc.rsplit('@', 1)[-1]!r}), which a SQLite file has "
                "none of: write sqlite:///relative/path or sqlite:////absolute/path"
            )
        path = unquote(parts.path)
        # sqlite:///relative/path keeps one slash; sqlite:////abs keeps two.
        name = path[1:] if path.startswith("/") else path
        return {
            # Django's, rolling back what an interrupted atomic() left open
            # rather than commit it (dealgate.sqlite).
            "ENGINE": "dealgate.sqlite",
            "NAME": name or ":memory:",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                # Seconds a command (an import, the sweeper) waits for another
                # writer's lock. A web request waits WEB_DB_WAIT instead
                # (dealgate.web.busy).
                "timeout": 20,
                # A write-ahead log lets pages read while the sweeper or an
                # import writes, and a commit costs one sync instead of the
                # rollback journal's several. synchronous stays FULL: a commit
                # survives a power cut, so a sent notice is never redone.
                # A 64 MiB page cache (SQLite's default is 2 MiB), filled only
                # as pages are read: a sweep of 10,000 clocks spread over a
                # million rows dirties some 25,000 pages, and with the small
                # cache it spilled and rewrote them (8% of the sweep's time).
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                    "PRAGMA cache_size=-65536"
                ),
            },
        }
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "dealgate.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # Keeping connections open is worth 6-7x on PostgreSQL (PERFORMANCE.md).
            "CONN_MAX_AGE": env_number("DEALGATE_CONN_MAX_AGE", 600),
            # Checked before each request from the socket, without a round trip
            # (dealgate.postgresql), so a dropped session reconnects.
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        "DATABASE_URL must start with sqlite:/// or postgres://; got "
        f"{_without_password(url)!r}"
    )


def _without_password(url: str) -> str:
    """`url` with any password in it replaced by ***, fit to quote in an error."""
    return re.sub(r"^([^:/?#]*://[^:/?#@]*):[^/?#]*@", r"\1:***@", url)


DEBUG = env_bool("DEALGATE_DEBUG", False)
SECRET_KEY = os.environ.get("DEALGATE_SECRET_KEY", PLACEHOLDER_SECRET)
if SECRET_KEY == PLACEHOLDER_SECRET and env_bool("DEALGATE_PRODUCTION", False):
    raise ImproperlyConfigured(
        "DEALGATE_SECRET_KEY is left at its placeholder; set a long random value"
    )
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DEALGATE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]

# The address people reach Dealgate at, e.g. https://crm.example.com (README,
# "Behind a reverse proxy"). Links in mails and webhook messages start with
# it; its host is allowed and its origin trusted by the CSRF check, so a
# sign-in through a proxy that gunicorn does not trust (PROXY_ADDRESSES) still
# passes. An https:// one also marks the session and CSRF cookies Secure and
# sends HSTS on requests that came over HTTPS. Empty: plain local use, as
# `make demo` serves at http://127.0.0.1:8000/.
SITE_URL = checked_site_url(
    "DEALGATE_SITE_URL", os.environ.get("DEALGATE_SITE_URL", "")
)
CSRF_TRUSTED_ORIGINS: list[str] = []
if SITE_URL:
    _site = urlsplit(SITE_URL)
    if _site.hostname not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_site.hostname)
    CSRF_TRUSTED_ORIGINS.append(f"{_site.scheme}://{_site.netloc}")
HTTPS = SITE_URL.startswith("https://")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# A form whose token no longer holds gets the site's page, saying what to do.
CSRF_FAILURE_VIEW = "dealgate.web.errors.csrf_failure"
# A day: long enough to matter between visits, short enough that a site moved
# back to plain http recovers by the next day. Raise it at the proxy once
# HTTPS is there to stay. No includeSubDomains: the firm's other hosts are
# not Dealgate's to decide. Django sends it only on a request that came over
# HTTPS, as gunicorn tells from the proxy's X-Forwarded-Proto.
SECURE_HSTS_SECONDS = 86400 if HTTPS else 0
# Whether a request came over HTTPS is gunicorn's to tell (wsgi.url_scheme),
# from X-Forwarded-Proto sent by one of these addresses only; Django's
# SECURE_PROXY_SSL_HEADER stays unset, as it would believe the header from
# any client that reaches the server directly. `dealgate serve` passes them as
# gunicorn's forwarded_allow_ips; the default is gunicorn's own.
PROXY_ADDRESSES = proxy_addresses("DEALGATE_PROXY_ADDRESSES", "127.0.0.1,::1")
SECURE_PROXY_SSL_HEADER = None

# The instant the application treats as "now", for demos on historical data and
# for tests. Empty means the real time. See dealgate.timesource.
AS_OF = os.environ.get("DEALGATE_AS_OF", "")

# Leads: the region phone numbers without a country code are read in when the
# lead names no country (e.g. "DE"; empty: the country of the pipeline's
# holiday calendar, dealgate.leads.services.phone_region) and the web form's
# rate limit per client address.
LEADS_PHONE_REGION = env_phone_region("DEALGATE_PHONE_REGION")
LEADS_FORM_RATE_LIMIT = env_number("DEALGATE_LEAD_FORM_RATE_LIMIT", 5, least=1)
LEADS_FORM_RATE_WINDOW = env_number("DEALGATE_LEAD_FORM_RATE_WINDOW", 600, least=1)
# Where a lead from the form, the API or the New lead page is kept while
# SQLite is busy with another writer, until the sweeper takes it in
# (dealgate.leads.spool).
# Empty: a folder beside the SQLite file, named after it.
LEADS_SPOOL_DIR = os.environ.get("DEALGATE_LEAD_SPOOL_DIR", "")

# Seconds a web request waits for another writer's lock on SQLite (a write by
# another worker or the sweeper takes milliseconds) before answering 503;
# commands keep the connection's own 20 (DATABASES above). A long import holds
# the lock for minutes: waiting it out would hold a worker, and with it every
# page that worker serves. On PostgreSQL it is the request's lock_timeout, for
# each lock (an import's first load holds the deals tables whole); commands
# keep the server's own (dealgate.web.busy).
WEB_DB_WAIT = env_number("DEALGATE_WEB_DB_WAIT", 3.0, kind=float)
# Seconds a request's headers may take to arrive whole under `dealgate serve`,
# from its connection's acceptance (or, kept alive, from its first byte),
# before the connection is answered 408 and closed (dealgate.web.workers).
HEADER_WAIT = env_wait("DEALGATE_HEADER_WAIT", 5.0)
# Seconds a body may take to arrive whole under gunicorn, sent in chunks or
# with its Content-Length, before the request is refused (400): a sync worker
# reads it from the socket and serves no one else meanwhile
# (dealgate.web.bodies).
BODY_WAIT = env_wait("DEALGATE_BODY_WAIT", 10.0)
# Both come out of one request's WORKER_TIMEOUT: a client slow with both
# would otherwise have the worker killed, with a 500, before either ended.
if HEADER_WAIT + BODY_WAIT >= WORKER_TIMEOUT:
    raise ImproperlyConfigured(
        f"DEALGATE_HEADER_WAIT ({HEADER_WAIT:g}) and DEALGATE_BODY_WAIT "
        f"({BODY_WAIT:g}) must add up to less than {WORKER_TIMEOUT} (the worker "
        "timeout)"
    )
# Seconds a sweeper tick waits for another writer's lock on SQLite before it
# skips, saying so, and leaves the work to the next tick: long enough for a
# web request's write, not for an import (dealgate.clocks.runner).
SWEEP_DB_WAIT = env_number("DEALGATE_SWEEP_DB_WAIT", 3.0, kind=float)

# The header a trusted proxy puts the client address in, for every limit per
# address (dealgate.web.client); empty: the connection's own address. Believed
# only from PROXY_ADDRESSES (unset: this machine), so it opens no way around
# the limits to whoever reaches the server directly.
CLIENT_ADDRESS_HEADER = env_header_name("DEALGATE_CLIENT_ADDRESS_HEADER")

# Sign-in (dealgate.accounts.signin): failed sign-ins within the window
# (seconds) are counted for a username from one client address, for an
# address whatever usernames it tries, and for a username from all addresses
# together. Reaching a limit refuses the sign-ins it counts during the lockout
# (seconds), whatever the password; a username's own lock lets it in from an
# address it signed in from within the last KNOWN_ADDRESS_DAYS (0: never).
SIGN_IN_LIMIT = env_number("DEALGATE_SIGN_IN_LIMIT", 5, least=1)
SIGN_IN_ADDRESS_LIMIT = env_number("DEALGATE_SIGN_IN_ADDRESS_LIMIT", 20, least=1)
# Ten addresses' worth of a username's own limit: people mistyping never come
# near it, while guessing spread over many addresses gets at most 50 tries a
# window (NIST SP 800-63B asks for at most 100 failures in a row).
SIGN_IN_USERNAME_LIMIT = env_number("DEALGATE_SIGN_IN_USERNAME_LIMIT", 50, least=1)
SIGN_IN_WINDOW = env_number("DEALGATE_SIGN_IN_WINDOW", 900, least=1)
SIGN_IN_LOCKOUT = env_number("DEALGATE_SIGN_IN_LOCKOUT", 900, least=1)
SIGN_IN_KNOWN_ADDRESS_DAYS = env_number("DEALGATE_SIGN_IN_KNOWN_ADDRESS_DAYS", 30)

INSTALLED_APPS = [
    # Django's admin, its sign-in limited as the login page's is.
    "dealgate.accounts.admin_app.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # Serves the API docs (Swagger UI) from its own static files, not a CDN.
    "ninja",
    "dealgate.accounts",
    "dealgate.pipelines",
    "dealgate.deals",
    "dealgate.leads",
    "dealgate.insights",
    "dealgate.clocks",
    "dealgate.builder",
    "dealgate.web",
]

MIDDLEWARE = [
    # Every error under /api/ answers JSON, those of the layers below too.
    "dealgate.api.routes.ApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside the layers that answer on their own (a chunked or NUL-holding
    # body refused), so their answers carry the headers too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Scripts, styles and images from this site only, no inline ones; the
    # lead form may still be framed (dealgate.web.csp).
    "dealgate.web.csp.ContentSecurityPolicyMiddleware",
    # Serves /static/ from the worker itself, before sessions or the database.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A body is read whole here within BODY_WAIT under gunicorn, or refused,
    # before anything reads the form; one sent in chunks (no Content-Length),
    # which Django takes for no body, everywhere (dealgate.web.bodies).
    "dealgate.web.bodies.BodyMiddleware",
    # A control character (a NUL) in the address, query string, form or
    # cookies is refused here, the same on both databases (dealgate.web.controls).
    "dealgate.web.controls.ControlCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A HEAD request writes nothing: what a GET records in passing as it
    # reads is skipped for it, and the messages a page shows stay unread
    # (dealgate.web.head). Inside MessageMiddleware, to answer before it.
    "dealgate.web.head.HeadMiddleware",
    # A visit to an address that only takes a form (a refused move's, left in
    # the address bar) leads to the form's page, not a blank 405
    # (dealgate.web.form_addresses).
    "dealgate.web.form_addresses.FormAddressMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A statement refused by another's lock (an import's, on SQLite or
    # PostgreSQL) is a 503 with Retry-After, not a bare 500 (dealgate.web.busy).
    "dealgate.web.busy.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "dealgate.urls"
WSGI_APPLICATION = "dealgate.wsgi.application"

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

DATABASE_URL = os.environ.get(
    "DATABASE_URL", f"sqlite:///{VAR_DIR / 'dealgate.sqlite3'}"
)
DATABASES = {"default": database_from_url(DATABASE_URL)}
# PostgreSQL prepares the fixed SQL of lead capture on each connection
# (clocks.bulk.prepared_cursor); a transaction-mode connection pooler, which
# hands each transaction another server session, needs this off.
PREPARED_STATEMENTS = env_bool("DEALGATE_PREPARED_STATEMENTS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (Index.include) are PostgreSQL's; on SQLite Django builds
# them with their keys only, which is what we want, so its warning is noise.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "board"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Filled by `collectstatic`, which `dealgate serve` runs before starting workers.
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies (gzip, brotli if installed) without a manifest: pages
    # render from a plain checkout and in tests before any collectstatic.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Notices (docs/clocks.md): email over SMTP and a Slack-compatible webhook.
# Leave DEALGATE_SMTP_HOST or DEALGATE_WEBHOOK_URL empty to turn a channel off.
# Secrets may come from a file (DEALGATE_SMTP_PASSWORD_FILE, _URL_FILE).
SMTP_HOST = os.environ.get("DEALGATE_SMTP_HOST", "")
SMTP_PORT = env_number("DEALGATE_SMTP_PORT", 587, least=1)
SMTP_USER = os.environ.get("DEALGATE_SMTP_USER", "")
SMTP_PASSWORD = env_secret("DEALGATE_SMTP_PASSWORD")
SMTP_FROM = os.environ.get("DEALGATE_SMTP_FROM", "dealgate@localhost")
# starttls (upgrade a plain connection; port 587), tls (port 465) or none.
SMTP_SECURITY = os.environ.get("DEALGATE_SMTP_SECURITY", "").lower() or "starttls"
if SMTP_SECURITY not in ("starttls", "tls", "none"):
    raise ImproperlyConfigured(
        f"DEALGATE_SMTP_SECURITY must be starttls, tls or none; got {SMTP_SECURITY!r}"
    )
WEBHOOK_URL = checked_webhook_url(
    "DEALGATE_WEBHOOK_URL", env_secret("DEALGATE_WEBHOOK_URL")
)
# Links in mails and webhook messages start with SITE_URL (above).
# Seconds between sweeps of `dealgate sweep --loop` and inside `dealgate serve`.
SWEEP_INTERVAL = env_number("DEALGATE_SWEEP_INTERVAL", 30.0, kind=float, least=0.1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "dealgate.web.logstream.StandardError",
            "formatter": "plain",
        }
    },
    "loggers": {
        # With DEBUG off Django would only mail server errors; show them.
        "django.request": {
            "handlers": ["console"],
            "level": "ERROR",
            "propagate": False,
        },
        # Unset, the `dealgate` command lowers it to WARNING for a command
        # that prints its own output (dealgate.cli).
        "dealgate": {
            "handlers": ["console"],
            "level": env_log_level("DEALGATE_LOG_LEVEL", "INFO"),
        },
    },
}

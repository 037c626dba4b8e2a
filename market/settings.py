"""Every setting comes from an environment variable, read in one place."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from matching.dispatch import Weights

DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{Path('var/market.db').resolve()}"
# Without MARKET_SECRET_KEY, the install's own secret: made on the first start, next to the default
# database (relative to where the service starts, so every process of one install reads the same).
SECRET_FILE = Path("var/secret_key")
# Order photos without MARKET_PHOTO_STORAGE: files next to the default database.
DEFAULT_PHOTO_STORAGE = str(Path("var/photos").resolve())
# The largest photo and pixel count a street may allow: upload routes size their body limit from
# the first, and Pillow's decompression-bomb guard stands at the second (market/photos/images.py).
PHOTO_BYTES_CEILING = 20 * 1024 * 1024
PHOTO_PIXELS_CEILING = 100_000_000


class SettingsError(RuntimeError):
    """The environment describes a configuration the service must not run with."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise SettingsError(f"MARKET_NOW {value!r} is not an ISO 8601 moment") from error
    if moment.tzinfo is None:
        raise SettingsError("MARKET_NOW needs a UTC offset, e.g. 2026-03-11T15:57:00+08:00")
    return moment


def _weights(env: os._Environ[str] | dict[str, str]) -> Weights:
    """Weights from MARKET_DISPATCH_<NAME> variables, the defaults for the rest."""
    given = {}
    for weight in fields(Weights):
        value = env.get(f"MARKET_DISPATCH_{weight.name.upper()}")
        if value is not None:
            kind = float if weight.type == "float" else int
            try:
                given[weight.name] = kind(value)
            except ValueError as error:
                raise SettingsError(f"MARKET_DISPATCH_{weight.name.upper()} must be a number") from error
    try:
        return replace(Weights(), **given)
    except ValueError as error:
        raise SettingsError(f"MARKET_DISPATCH_*: {error}") from error


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False
    # A pooled engine is right for a server; tests and one-shot commands use NullPool.
    database_pool: bool = True
    # Signs tokens and CSRF cookies. Empty here on purpose: `from_env` takes MARKET_SECRET_KEY or the
    # install's own secret file; there is no built-in secret anyone could read in the source.
    secret_key: str = ""
    token_hours: int = 12
    # Failed attempts (logins, pickup codes) are throttled, never locked (see market/auth/throttle.py):
    # each limit lets `free` failures pass, then every further attempt waits
    # first_wait·2^(failures−free) seconds after the last failure, at most `max_wait`. A failure
    # counts until a success clears it (the same account from the same address or device) or until
    # it is older than the window, which must be long enough that guessing on keeps the longest wait.
    throttle_window_minutes: int = 24 * 60
    throttle_first_wait_seconds: int = 60
    throttle_max_wait_seconds: int = 900
    # Logins from a device that has logged in to the account before (it sends the device token it
    # was given) are held only to that device's own failures: no stranger can slow the owner there.
    login_device_free_failures: int = 10
    # Logins without one: per account from one client address; per client address across accounts
    # (spraying); per account across addresses (a guesser with many addresses). A stranger can make
    # the owner's new devices wait (never past max_wait once the guessing stops), not the known ones.
    login_free_failures: int = 5
    login_client_free_failures: int = 20
    login_account_free_failures: int = 50
    # How long a device token (the pages' device cookie, or the one API clients keep) is valid.
    device_token_days: int = 180
    # Pickup codes: wrong codes per person, and per counter (everyone trying codes at one counter).
    pickup_free_failures: int = 10
    pickup_counter_free_failures: int = 30
    # Sign-ups from one client address within the window before each further one waits (a family,
    # a community centre's tablet), as failures do.
    signup_free_per_client: int = 5
    # Records of failed attempts are kept this long for administrators to see.
    failed_attempts_keep_days: int = 30
    offer_ttl_minutes: int = 30
    scheduler: bool = True
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    # Local time of the service: availability windows and daily caps are in this zone.
    timezone: str = "Asia/Shanghai"
    # Cost weights of the dispatch solver, each from MARKET_DISPATCH_<NAME> (see matching.dispatch.Weights).
    dispatch_weights: Weights = field(default_factory=Weights)
    # How often auto-dispatch plans and offers the waiting orders of the communities that turned it on.
    auto_dispatch_seconds: int = 120
    # Points a volunteer earns from the community pool when a resident confirms a wish they fulfilled.
    wish_points: int = 20
    # Escalation after posting, the "1130" rule: not accepted within an hour -> the grid is
    # told; not accepted within a day -> the community; not completed within three days -> the street.
    escalate_grid_minutes: int = 60
    escalate_community_hours: int = 24
    escalate_street_hours: int = 72
    # A completed order the resident has not confirmed is confirmed (without a rating) after this.
    auto_confirm_days: int = 7
    # Run records of the scheduled jobs older than this are deleted.
    job_runs_keep_days: int = 30
    # The volunteer's live offers (server-sent events): each stream polls the database this often
    # (every API process polls on its own, so nothing is kept in memory) and ends after
    # `offer_stream_seconds`, when the browser reconnects by itself.
    offer_stream_poll_seconds: float = 2.0
    offer_stream_seconds: int = 300
    # The service's clock stands at this moment (MARKET_NOW, ISO 8601 with an offset): for demos and
    # tests that must not depend on the hour they run at. Refused in production.
    now: datetime | None = None
    # Limits a street would choose, each answered with a 429 when reached: orders a resident may
    # have open at once (not yet confirmed, rejected, cancelled or expired), dispatch plans one
    # person may run per minute, and how long plans are kept before the purge job deletes them
    # (the offers and order histories they led to stay).
    open_orders_per_resident: int = 10
    plans_per_minute: int = 6
    plan_keep_days: int = 30
    # How long `market serve --workers N` waits for a worker to start, or to answer its health check,
    # before it kills it: starting a worker takes seconds on a loaded machine, not milliseconds.
    worker_timeout_seconds: int = 60
    # Where order photos are kept: a folder, or `s3://bucket/prefix` on S3-compatible storage (its
    # endpoint and credentials from the usual AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ... variables).
    photo_storage: str = DEFAULT_PHOTO_STORAGE
    # A photo's largest file and pixel count; the pixel count is read from the header, before decoding.
    photo_max_bytes: int = 10 * 1024 * 1024
    photo_max_pixels: int = 40_000_000

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        settings = cls(
            env=env.get("MARKET_ENV", defaults.env),
            database_url=env.get("MARKET_DATABASE_URL", defaults.database_url),
            database_echo=_bool(env.get("MARKET_DATABASE_ECHO", "0")),
            database_pool=_bool(env.get("MARKET_DATABASE_POOL", "1")),
            secret_key=_secret_key(env),
            token_hours=int(env.get("MARKET_TOKEN_HOURS", defaults.token_hours)),
            throttle_window_minutes=int(
                env.get("MARKET_THROTTLE_WINDOW_MINUTES", defaults.throttle_window_minutes)
            ),
            throttle_first_wait_seconds=int(
                env.get("MARKET_THROTTLE_FIRST_WAIT_SECONDS", defaults.throttle_first_wait_seconds)
            ),
            throttle_max_wait_seconds=int(
                env.get("MARKET_THROTTLE_MAX_WAIT_SECONDS", defaults.throttle_max_wait_seconds)
            ),
            login_device_free_failures=int(
                env.get("MARKET_LOGIN_DEVICE_FREE_FAILURES", defaults.login_device_free_failures)
            ),
            login_free_failures=int(env.get("MARKET_LOGIN_FREE_FAILURES", defaults.login_free_failures)),
            login_client_free_failures=int(
                env.get("MARKET_LOGIN_CLIENT_FREE_FAILURES", defaults.login_client_free_failures)
            ),
            login_account_free_failures=int(
                env.get("MARKET_LOGIN_ACCOUNT_FREE_FAILURES", defaults.login_account_free_failures)
            ),
            device_token_days=int(env.get("MARKET_DEVICE_TOKEN_DAYS", defaults.device_token_days)),
            pickup_free_failures=int(env.get("MARKET_PICKUP_FREE_FAILURES", defaults.pickup_free_failures)),
            pickup_counter_free_failures=int(
                env.get("MARKET_PICKUP_COUNTER_FREE_FAILURES", defaults.pickup_counter_free_failures)
            ),
            signup_free_per_client=int(
                env.get("MARKET_SIGNUP_FREE_PER_CLIENT", defaults.signup_free_per_client)
            ),
            failed_attempts_keep_days=int(
                env.get("MARKET_FAILED_ATTEMPTS_KEEP_DAYS", defaults.failed_attempts_keep_days)
            ),
            offer_ttl_minutes=int(env.get("MARKET_OFFER_TTL_MINUTES", defaults.offer_ttl_minutes)),
            scheduler=_bool(env.get("MARKET_SCHEDULER", "on")),
            cors_origins=tuple(o for o in env.get("MARKET_CORS_ORIGINS", "").split(",") if o),
            timezone=env.get("MARKET_TIMEZONE", defaults.timezone),
            dispatch_weights=_weights(env),
            auto_dispatch_seconds=int(
                env.get("MARKET_AUTO_DISPATCH_SECONDS", defaults.auto_dispatch_seconds)
            ),
            wish_points=int(env.get("MARKET_WISH_POINTS", defaults.wish_points)),
            escalate_grid_minutes=int(
                env.get("MARKET_ESCALATE_GRID_MINUTES", defaults.escalate_grid_minutes)
            ),
            escalate_community_hours=int(
                env.get("MARKET_ESCALATE_COMMUNITY_HOURS", defaults.escalate_community_hours)
            ),
            escalate_street_hours=int(
                env.get("MARKET_ESCALATE_STREET_HOURS", defaults.escalate_street_hours)
            ),
            auto_confirm_days=int(env.get("MARKET_AUTO_CONFIRM_DAYS", defaults.auto_confirm_days)),
            job_runs_keep_days=int(env.get("MARKET_JOB_RUNS_KEEP_DAYS", defaults.job_runs_keep_days)),
            offer_stream_poll_seconds=float(
                env.get("MARKET_OFFER_STREAM_POLL_SECONDS", defaults.offer_stream_poll_seconds)
            ),
            offer_stream_seconds=int(env.get("MARKET_OFFER_STREAM_SECONDS", defaults.offer_stream_seconds)),
            now=_moment(env.get("MARKET_NOW")),
            open_orders_per_resident=int(
                env.get("MARKET_OPEN_ORDERS_PER_RESIDENT", defaults.open_orders_per_resident)
            ),
            plans_per_minute=int(env.get("MARKET_PLANS_PER_MINUTE", defaults.plans_per_minute)),
            plan_keep_days=int(env.get("MARKET_PLAN_KEEP_DAYS", defaults.plan_keep_days)),
            worker_timeout_seconds=int(
                env.get("MARKET_WORKER_TIMEOUT_SECONDS", defaults.worker_timeout_seconds)
            ),
            photo_storage=env.get("MARKET_PHOTO_STORAGE", defaults.photo_storage),
            photo_max_bytes=int(env.get("MARKET_PHOTO_MAX_BYTES", defaults.photo_max_bytes)),
            photo_max_pixels=int(env.get("MARKET_PHOTO_MAX_PIXELS", defaults.photo_max_pixels)),
        )
        settings.check()
        return settings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check(self) -> None:
        if self.env == "production" and self.now is not None:
            raise SettingsError(
                "MARKET_NOW stops the service's clock; it is refused when MARKET_ENV=production"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SettingsError(f"MARKET_TIMEZONE {self.timezone!r} is not a known time zone") from error
        if len(self.secret_key) < 32:
            raise SettingsError("MARKET_SECRET_KEY must be at least 32 characters long")
        if not 0 < self.throttle_first_wait_seconds <= self.throttle_max_wait_seconds:
            raise SettingsError(
                "MARKET_THROTTLE_FIRST_WAIT_SECONDS must be positive"
                " and at most MARKET_THROTTLE_MAX_WAIT_SECONDS"
            )
        free = (
            self.login_device_free_failures,
            self.login_free_failures,
            self.login_client_free_failures,
            self.login_account_free_failures,
            self.pickup_free_failures,
            self.pickup_counter_free_failures,
            self.signup_free_per_client,
        )
        if self.throttle_window_minutes < 1 or min(free) < 1:
            raise SettingsError(
                "MARKET_THROTTLE_WINDOW_MINUTES and every MARKET_*_FREE_FAILURES must be at least 1"
            )
        steps = math.ceil(math.log2(self.throttle_max_wait_seconds / self.throttle_first_wait_seconds))
        if self.throttle_window_minutes * 60 < (max(free) + steps) * self.throttle_max_wait_seconds:
            # Failures made one per longest wait must stay enough to keep that wait, or it shrinks back.
            raise SettingsError(
                "MARKET_THROTTLE_WINDOW_MINUTES must cover (the largest MARKET_*_FREE_FAILURES + the"
                " doublings from the first wait to the longest) × MARKET_THROTTLE_MAX_WAIT_SECONDS"
            )
        if self.device_token_days < 1:
            raise SettingsError("MARKET_DEVICE_TOKEN_DAYS must be at least 1")
        if self.login_account_free_failures <= self.login_client_free_failures:
            # An address guessing at one account is slowed by its own limits long before this one.
            raise SettingsError(
                "MARKET_LOGIN_ACCOUNT_FREE_FAILURES must be above MARKET_LOGIN_CLIENT_FREE_FAILURES"
            )
        if self.failed_attempts_keep_days * 24 * 60 < self.throttle_window_minutes:
            raise SettingsError("MARKET_FAILED_ATTEMPTS_KEEP_DAYS must cover MARKET_THROTTLE_WINDOW_MINUTES")
        community_minutes, street_minutes = (
            self.escalate_community_hours * 60,
            self.escalate_street_hours * 60,
        )
        if not 0 < self.escalate_grid_minutes < community_minutes <= street_minutes:
            raise SettingsError(
                "MARKET_ESCALATE_GRID_MINUTES, _COMMUNITY_HOURS and _STREET_HOURS must be positive"
                " and reach the grid before the community, and the community no later than the street"
            )
        limits = (self.open_orders_per_resident, self.plans_per_minute, self.plan_keep_days)
        if min(*limits, self.worker_timeout_seconds) < 1:
            raise SettingsError(
                "MARKET_OPEN_ORDERS_PER_RESIDENT, MARKET_PLANS_PER_MINUTE, MARKET_PLAN_KEEP_DAYS and"
                " MARKET_WORKER_TIMEOUT_SECONDS must be at least 1"
            )
        if self.auto_confirm_days < 1 or self.job_runs_keep_days < 1:
            raise SettingsError("MARKET_AUTO_CONFIRM_DAYS and MARKET_JOB_RUNS_KEEP_DAYS must be at least 1")
        if not 0 < self.photo_max_bytes <= PHOTO_BYTES_CEILING:
            raise SettingsError(f"MARKET_PHOTO_MAX_BYTES must be positive and at most {PHOTO_BYTES_CEILING}")
        if not 0 < self.photo_max_pixels <= PHOTO_PIXELS_CEILING:
            raise SettingsError(
                f"MARKET_PHOTO_MAX_PIXELS must be positive and at most {PHOTO_PIXELS_CEILING}"
            )
        if self.photo_storage.startswith("s3:") and not self.photo_storage.startswith("s3://"):
            raise SettingsError("MARKET_PHOTO_STORAGE must be a folder or s3://bucket/prefix")
        if not 0 < self.offer_stream_poll_seconds <= self.offer_stream_seconds:
            raise SettingsError(
                "MARKET_OFFER_STREAM_POLL_SECONDS must be positive and at most MARKET_OFFER_STREAM_SECONDS"
            )


def _secret_key(env: os._Environ[str] | dict[str, str]) -> str:
    """MARKET_SECRET_KEY, required in production; elsewhere the install's own random secret."""
    given = env.get("MARKET_SECRET_KEY")
    if given:
        return given
    if env.get("MARKET_ENV") == "production":
        raise SettingsError("MARKET_SECRET_KEY must be set to a private value when MARKET_ENV=production")
    return install_secret(SECRET_FILE)


def install_secret(path: Path) -> str:
    """The secret kept in `path`, made there (readable by its owner only) when there is none yet.

    Several processes may start at once: the secret is written whole to a file of this process's
    own and then linked into place, which fails for all but the first, and the others read that one.
    """
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its secret holds
            os.link(draft, path)
    finally:
        draft.unlink()
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise SettingsError(f"{path} holds no usable secret; delete it to have a new one made")
    return secret

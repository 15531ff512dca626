"""Server settings, read from ``KEYPLANE_*`` environment variables."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    # Errors never repeat a value: some settings are secrets (keys, passwords, URLs).
    model_config = SettingsConfigDict(
        env_prefix="KEYPLANE_", extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = Path(".keyplane")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the data dir"
    )
    public_url: str = "http://127.0.0.1:8080"
    redis_url: str | None = None
    # Scale-out (keyplane.ops). Cache invalidation across replicas: auto = PostgreSQL
    # LISTEN/NOTIFY on PostgreSQL, else Redis pub/sub with a Redis URL, else none.
    notifier: Literal["auto", "postgresql", "redis", "none"] = "auto"
    # Cached credentials live this long while the invalidation listener is connected;
    # auth_cache_ttl_seconds applies without a listener or while it is reconnecting.
    auth_cache_ttl_notified_seconds: float = 300.0
    # Logs: JSON lines (production) or plain text (development).
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    access_log: bool = True
    # Comma-separated Fernet keys for secrets kept encrypted at rest; the first one
    # encrypts. Unset: a key file in the data dir (see keyplane.secretbox).
    encryption_keys: str | None = Field(default=None, repr=False)

    # Requests larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = 1_048_576
    # How long a resolved credential stays in the per-process cache. Writes made by
    # this process invalidate at once; the TTL bounds staleness across replicas.
    auth_cache_ttl_seconds: float = 5.0
    # Keep the answers to repeated reads of the directory (GET /v1/self, listings of
    # organizations, workspaces, deployments) per caller, dropped with the credential
    # cache (see keyplane.http.answers).
    answer_cache: bool = True
    # lastUsedAt is written at most once per token per this many seconds.
    last_used_interval_seconds: float = 60.0
    # Failed secret checks allowed per client IP per minute before 429.
    auth_failure_limit_per_minute: int = 30

    # OAuth (keyplane.oauth): lifetime of issued JWT access tokens, and the dates that
    # deployment API key answers announce in their Deprecation and Sunset headers.
    access_token_lifetime_seconds: int = Field(default=3600, ge=60, le=86_400)
    api_keys_deprecated_on: str = "2026-01-01"
    api_keys_sunset_on: str = "2027-07-01"

    # Audit events older than this are deleted by `keyplane admin audit prune`
    # (0: keep forever). The prune is itself recorded, so the chain still verifies.
    audit_retention_days: int = Field(default=365, ge=0)
    # Largest deploy bundle accepted, in bytes (the upload is refused with 413 beyond it).
    deploy_max_bytes: int = Field(default=500 * 1024 * 1024, ge=1)
    # What a bundle may unpack to: members (files, folders, links) and the sum of their
    # sizes. Gzip makes a small upload of millions of empty files, or of gigabytes of
    # zeros; the server reads every bundle through before storing it, so both are bound.
    deploy_max_files: int = Field(default=50_000, ge=1)
    deploy_max_unpacked_bytes: int = Field(default=5 * 1024**3, ge=1)
    # Where bundles are kept: unset = `bundles/` in the data dir; else any fsspec URL
    # (s3://bucket/prefix, gs://..., file:///srv/bundles, memory://...).
    deploy_store_url: str | None = None
    # Browser sessions (identity). Secure cookies carry the __Host- prefix; turn
    # cookie_secure off only to serve plain http on a non-localhost address.
    cookie_secure: bool = True
    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    password_min_length: int = 10
    # argon2id cost; a stored hash made with other values is redone at its next login.
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    # Failed password logins allowed per 15 minutes: per account from one client IP,
    # per client IP, and per account from all addresses together.
    login_failures_per_account: int = 10
    login_failures_per_ip: int = 50
    login_failures_per_account_anywhere: int = 100
    invitation_ttl_hours: int = 72
    # SSO issuers, JWKS and token endpoints are URLs a tenant chooses: off, the server
    # connects only to public addresses (keyplane.identity.egress). On for an identity
    # provider inside the operator's own network.
    sso_allow_private_networks: bool = False
    # Workload identity federation (keyplane.federation): the issuers, comma-separated,
    # whose ID tokens a workload identity may trust. Their discovery documents and JWKS
    # are the only URLs the exchange fetches; a tenant cannot name any other.
    federation_issuers: str = "https://token.actions.githubusercontent.com,https://gitlab.com"
    # CLI logins (keyplane login): access tokens are short; the refresh-token chain
    # lasts at most cli_login_days from sign-in.
    cli_access_token_seconds: int = 900
    cli_login_days: int = 30
    device_code_seconds: int = 600
    # Mail: SMTP when smtp_host is set, else a file outbox in <data_dir>/outbox.
    mail_from: str = "keyplane <keyplane@localhost>"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = True
    # Credential hygiene (keyplane.hygiene): where GitHub's secret-scanning partner
    # program publishes the keys that sign its reports, and how many leak reports
    # (POST /v1/tokens/report) one client address may make per minute.
    secret_scanning_keys_url: str = "https://api.github.com/meta/public_keys/secret_scanning"
    leak_reports_per_minute: int = Field(default=10, ge=1)

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: str | None) -> str | None:
        """Each key as Fernet takes it, checked at start: else the server would serve,
        look ready, and fail at its first signature or secret (base64 only, so the
        CLI does not load cryptography to read its settings)."""
        for key in filter(None, (k.strip() for k in (value or "").split(","))):
            try:
                valid = len(base64.urlsafe_b64decode(key.encode())) == 32
            except (binascii.Error, ValueError):
                valid = False
            if not valid:
                raise ValueError(
                    "each comma-separated key must be 32 url-safe base64-encoded bytes "
                    "(make one with `python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str | None) -> str | None:
        try:
            if value:
                make_url(value)
        except (ArgumentError, ValueError):
            # Not the URL itself in the message: it may hold a password.
            raise ValueError("not a SQLAlchemy URL (postgresql+psycopg://user@host/db)") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @model_validator(mode="after")
    def _notifier_has_its_channel(self) -> Settings:
        if self.notifier == "redis" and not self.redis_url:
            raise ValueError("KEYPLANE_NOTIFIER: redis needs KEYPLANE_REDIS_URL")
        backend = make_url(self.resolved_database_url).get_backend_name()
        if self.notifier == "postgresql" and backend != "postgresql":
            raise ValueError(
                "KEYPLANE_NOTIFIER: postgresql needs a PostgreSQL KEYPLANE_DATABASE_URL"
            )
        return self

    @property
    def federation_issuer_list(self) -> tuple[str, ...]:
        """The issuers of ``federation_issuers``, without trailing slashes."""
        return tuple(i.strip().rstrip("/") for i in self.federation_issuers.split(",") if i.strip())

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'keyplane.db').resolve()}"

    @property
    def sqlite_file(self) -> Path | None:
        """The file of a SQLite database; None for another database or one in memory."""
        url = make_url(self.resolved_database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(str(url.database)).resolve()


class SettingsError(ValueError):
    """Settings that cannot be used: one line per problem, each naming its variable."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment; raises SettingsError for any that cannot be used."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError("\n".join(_problem(detail) for detail in error.errors())) from None


def _problem(detail: ErrorDetails) -> str:
    # A validator's own ValueError says what is wrong without pydantic's "Value error, ".
    cause = detail.get("ctx", {}).get("error")
    message = str(cause) if detail["type"] == "value_error" and cause else detail["msg"]
    if not detail["loc"]:  # a check across settings: its message names them
        return message
    return f"KEYPLANE_{str(detail['loc'][0]).upper()}: {message}"

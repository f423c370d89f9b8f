"""Settings: defaults, then a TOML file, then ``QARION_PYPI_*`` variables, then CLI flags.

This is the only module that reads the environment (DESIGN.md).
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "QARION_PYPI_"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("qarion-data")
    # Absolute URL clients use to reach the server (behind a proxy); derived from requests if empty.
    public_url: str = ""
    # SQLAlchemy-style URL; empty means ``sqlite:///<data_dir>/qarion.db``.
    database_url: str = ""
    # Seconds a write waits for SQLite's write lock before it is answered 503 with Retry-After.
    database_lock_timeout: float = 10.0
    # Where blobs live: "filesystem" (blob_dir) or "s3" (an S3-compatible object store).
    storage_backend: str = "filesystem"
    # Blob directory; empty means ``<data_dir>/blobs``.
    blob_dir: str = ""
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # "redirect": clients get a short-lived presigned URL; "stream": bytes pass through the server.
    s3_downloads: str = "redirect"
    # Where background jobs run: "local" (this process's task group) or "arq" (queued on Redis,
    # run by ``qarion-pypi worker``, and by servers too with ``jobs_worker_in_server``).
    jobs_backend: str = "local"
    redis_url: str = ""
    jobs_queue_name: str = "arq:bulk"
    jobs_worker_in_server: bool = False
    # Jobs one process runs at a time.
    jobs_concurrency: int = 2
    # A running job's claim lasts this long unless its runner renews it; a job whose runner died
    # is failed once it runs out (at once when the runner's process is seen dead on this host).
    jobs_lease_seconds: float = 60.0
    admin_key: str = ""
    # Encrypts secrets at rest (proxies' upstream passwords) and signs web sessions. Empty: one is
    # generated into ``<data_dir>/secret.key`` (replicas must share one: set it on every node).
    secret_key: str = ""
    # Issuers whose CI tokens may be exchanged for upload tokens (trusted publishing), and the
    # audience those tokens must name.
    oidc_issuers: tuple[str, ...] = ()
    oidc_audience: str = "qarion-pypi"
    max_upload_bytes: int = 4 * 1024**3
    # Per-member and total uncompressed limits guard against zip and gzip bombs.
    max_metadata_bytes: int = 4 * 1024**2
    max_compression_ratio: int = 100
    # Archives listing more members than this are refused before they are read (a million empty
    # members cost seconds and memory; the largest real wheels hold tens of thousands).
    max_archive_members: int = 100_000
    upstream_index_url: str = ""
    # A netrc file with credentials for upstream hosts (used when a proxy names none of its own).
    upstream_netrc: str = ""
    outbound_allow_private: bool = False
    log_level: str = "info"
    # One line per request: "text" (key=value) or "json".
    log_format: str = "text"
    # GET /metrics in the Prometheus text format; with a token, only for "Authorization: Bearer <token>".
    metrics_enabled: bool = False
    metrics_token: str = ""
    # Seconds a request's headers may take to arrive (slow clients may not hold connections).
    header_timeout: float = 30.0
    # Seconds a stopping server waits for requests in flight before it closes them.
    shutdown_timeout: float = 30.0
    # Seconds a request body may pause before the request is answered 408.
    body_timeout: float = 60.0
    page_cache_entries: int = 4096
    # The platform switch for vulnerability scanning (the seed's PYTHON_PACKAGE_VULN_SCANNING_ENABLED).
    scanning_enabled: bool = False
    # The OSV query API (".../v1"), asked in addition to imported records; empty: offline only.
    osv_api_url: str = ""

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'qarion.db').resolve()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return Path(self.blob_dir) if self.blob_dir else self.data_dir / "blobs"


# TOML section/key -> settings attribute. Every key is documented in config.example.toml; each
# attribute is also the variable QARION_PYPI_<ATTRIBUTE> (upper case).
_TOML_KEYS: dict[tuple[str, str], str] = {
    ("server", "host"): "host",
    ("server", "port"): "port",
    ("server", "data_dir"): "data_dir",
    ("server", "public_url"): "public_url",
    ("server", "log_level"): "log_level",
    ("server", "log_format"): "log_format",
    ("metrics", "enabled"): "metrics_enabled",
    ("metrics", "token"): "metrics_token",
    ("server", "header_timeout"): "header_timeout",
    ("server", "shutdown_timeout"): "shutdown_timeout",
    ("server", "body_timeout"): "body_timeout",
    ("database", "url"): "database_url",
    ("database", "lock_timeout"): "database_lock_timeout",
    ("storage", "backend"): "storage_backend",
    ("storage", "blob_dir"): "blob_dir",
    ("storage", "s3_endpoint_url"): "s3_endpoint_url",
    ("storage", "s3_bucket"): "s3_bucket",
    ("storage", "s3_region"): "s3_region",
    ("storage", "s3_prefix"): "s3_prefix",
    ("storage", "s3_access_key_id"): "s3_access_key_id",
    ("storage", "s3_secret_access_key"): "s3_secret_access_key",
    ("storage", "s3_downloads"): "s3_downloads",
    ("jobs", "backend"): "jobs_backend",
    ("jobs", "redis_url"): "redis_url",
    ("jobs", "queue_name"): "jobs_queue_name",
    ("jobs", "worker_in_server"): "jobs_worker_in_server",
    ("jobs", "concurrency"): "jobs_concurrency",
    ("jobs", "lease_seconds"): "jobs_lease_seconds",
    ("auth", "admin_key"): "admin_key",
    ("auth", "secret_key"): "secret_key",
    ("oidc", "issuers"): "oidc_issuers",
    ("oidc", "audience"): "oidc_audience",
    ("uploads", "max_upload_bytes"): "max_upload_bytes",
    ("uploads", "max_metadata_bytes"): "max_metadata_bytes",
    ("uploads", "max_compression_ratio"): "max_compression_ratio",
    ("uploads", "max_archive_members"): "max_archive_members",
    ("simple", "page_cache_entries"): "page_cache_entries",
    ("upstream", "index_url"): "upstream_index_url",
    ("upstream", "netrc"): "upstream_netrc",
    ("outbound", "allow_private"): "outbound_allow_private",
    ("scanning", "enabled"): "scanning_enabled",
    ("scanning", "osv_api_url"): "osv_api_url",
}

_ENV_KEYS: dict[str, str] = {name.upper(): name for name in _TOML_KEYS.values()}
# Names other documents use for a setting, read without the prefix (the prefixed name wins).
_ENV_ALIASES: dict[str, str] = {"PYTHON_PACKAGE_VULN_SCANNING_ENABLED": "scanning_enabled"}

_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = _TYPES[name]
    try:
        if kind in ("int", "float"):
            if isinstance(value, bool):
                raise ValueError
            return int(value) if kind == "int" else float(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if kind == "Path":
            return Path(str(value))
        if kind == "tuple[str, ...]":  # a TOML list, or a comma-separated variable
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise ValueError
            return tuple(item.strip() for item in items if item.strip())
        if not isinstance(value, str):
            raise ValueError
        return value
    except ValueError:
        raise ConfigError(f"{source}: {value!r} is not a valid {kind}") from None


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: top-level key {section!r} must be a [section]")
        for key, value in table.items():
            name = _TOML_KEYS.get((section, key))
            if name is None:
                raise ConfigError(f"{path}: unknown setting [{section}] {key}")
            values[name] = _coerce(name, value, f"{path} [{section}] {key}")
    return values


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for variable, name in _ENV_ALIASES.items():
        if environ.get(variable):
            values[name] = _coerce(name, environ[variable], variable)
    for suffix, name in _ENV_KEYS.items():
        raw = environ.get(ENV_PREFIX + suffix)
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw, ENV_PREFIX + suffix)
    return values


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from the four layers, later layers winning."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if config_file is None and environ.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(environ[ENV_PREFIX + "CONFIG"])
    if config_file is not None:
        values.update(_from_toml(config_file))
    values.update(_from_env(environ))
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    settings = replace(Settings(), **values)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if not 0 < settings.port < 65536:
        raise ConfigError(f"port {settings.port} is out of range 1-65535")
    if settings.max_upload_bytes <= 0:
        raise ConfigError("max_upload_bytes must be positive")
    if settings.jobs_concurrency < 1:
        raise ConfigError("jobs_concurrency must be at least 1")
    if settings.jobs_lease_seconds < 1:
        raise ConfigError("jobs_lease_seconds must be at least 1 second")
    for name in ("public_url", "osv_api_url", "s3_endpoint_url"):
        value = getattr(settings, name)
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must start with http:// or https://")
    for issuer in settings.oidc_issuers:
        if not issuer.startswith(("https://", "http://")) or issuer.endswith("/"):
            raise ConfigError(f"oidc_issuers: {issuer!r} must be an http(s) URL without a trailing slash")
    for name, choices in _CHOICES.items():
        if getattr(settings, name) not in choices:
            raise ConfigError(f"{name} must be one of: {', '.join(choices)}")
    if settings.database_url and not settings.database_url.startswith(("sqlite", "postgresql")):
        raise ConfigError("database_url must be a sqlite:/// or postgresql:// URL")
    if settings.database_url.startswith("postgresql"):
        _require_extra("asyncpg", "postgres", "a PostgreSQL database_url")
        if not settings.secret_key:  # each replica would make its own, and not read the others' secrets
            raise ConfigError(
                "a PostgreSQL database_url needs [auth] secret_key (QARION_PYPI_SECRET_KEY), the same on every replica"
            )
    if settings.storage_backend == "s3":
        _require_extra("obstore", "s3", "the s3 storage backend")
    if settings.jobs_backend == "arq":
        _require_extra("arq", "arq", "the arq jobs backend")
    if settings.storage_backend == "s3" and not settings.s3_bucket:
        raise ConfigError("the s3 storage backend needs s3_bucket ([storage] s3_bucket)")
    if settings.jobs_backend == "arq" and not settings.redis_url:
        raise ConfigError("the arq jobs backend needs redis_url ([jobs] redis_url)")


def _require_extra(module: str, extra: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{what} needs the {module} library: pip install 'qarion-pypi[{extra}]'")


_CHOICES = {
    "storage_backend": ("filesystem", "s3"),
    "s3_downloads": ("redirect", "stream"),
    "jobs_backend": ("local", "arq"),
    "log_format": ("text", "json"),
}

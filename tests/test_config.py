"""Settings layering: defaults < TOML file < QARION_PYPI_* variables < command-line flags."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from qarion_pypi.config import _TOML_KEYS, ConfigError, Settings, load_settings

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8000, Path("qarion-data"))
    assert settings.resolved_database_url.endswith("qarion-data/qarion.db")
    assert settings.resolved_blob_dir == Path("qarion-data/blobs")


def test_layers_override_in_order(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\ndata_dir = "from-file"\n')
    environ = {"QARION_PYPI_PORT": "9100", "QARION_PYPI_DATA_DIR": "from-env"}
    settings = load_settings(config, {"data_dir": "from-flag"}, environ=environ)
    assert settings.host == "0.0.0.0"
    assert settings.port == 9100
    assert settings.data_dir == Path("from-flag")


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[outbound]\nallow_private = true\n")
    settings = load_settings(environ={"QARION_PYPI_CONFIG": str(config)})
    assert settings.outbound_allow_private is True


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[server]\nprot = 1\n", "unknown setting [server] prot"),
        ("[server]\nport = 'x'\n", "is not a valid int"),
        ("[server]\nport = 70000\n", "out of range"),
        ("port = 1\n", "must be a [section]"),
        ("[server\n", "not valid TOML"),
        ("[outbound]\nallow_private = 'maybe'\n", "is not a valid bool"),
        ("[server]\npublic_url = 'ftp://x'\n", "public_url must start with"),
        ("[database]\nurl = 'mysql://db/x'\n", "must be a sqlite:/// or postgresql:// URL"),
        ("[storage]\nbackend = 'tape'\n", "storage_backend must be one of: filesystem, s3"),
        ("[storage]\nbackend = 's3'\n", "needs s3_bucket"),
        ("[storage]\ns3_downloads = 'teleport'\n", "s3_downloads must be one of: redirect, stream"),
        ("[storage]\ns3_endpoint_url = 'minio:9000'\n", "s3_endpoint_url must start with"),
        ("[jobs]\nbackend = 'arq'\n", "needs redis_url"),
        ("[jobs]\nbackend = 'celery'\n", "jobs_backend must be one of: local, arq"),
        ("[jobs]\nconcurrency = 0\n", "jobs_concurrency must be at least 1"),
        ("[jobs]\nlease_seconds = 0.5\n", "jobs_lease_seconds must be at least 1 second"),
    ],
)
def test_bad_config_files(tmp_path: Path, document: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(document)
    with pytest.raises(ConfigError, match=None) as caught:
        load_settings(config, environ={})
    assert message in str(caught.value)


def test_scale_out_settings_from_the_environment() -> None:
    environ = {
        "QARION_PYPI_DATABASE_URL": "postgresql://db.internal/qarion",
        "QARION_PYPI_SECRET_KEY": "shared-by-every-replica",
        "QARION_PYPI_STORAGE_BACKEND": "s3",
        "QARION_PYPI_S3_BUCKET": "packages",
        "QARION_PYPI_S3_SECRET_ACCESS_KEY": "from-a-secret",
        "QARION_PYPI_JOBS_BACKEND": "arq",
        "QARION_PYPI_REDIS_URL": "redis://cache.internal:6379/0",
    }
    settings = load_settings(environ=environ)
    assert (settings.storage_backend, settings.s3_bucket, settings.s3_secret_access_key) == (
        "s3",
        "packages",
        "from-a-secret",
    )
    assert (settings.jobs_backend, settings.jobs_queue_name, settings.s3_downloads) == ("arq", "arq:bulk", "redirect")
    assert settings.resolved_database_url == "postgresql://db.internal/qarion"


def test_bad_environment_value() -> None:
    with pytest.raises(ConfigError, match="QARION_PYPI_PORT"):
        load_settings(environ={"QARION_PYPI_PORT": "eighty"})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_example_documents_every_key_and_loads() -> None:
    document = tomllib.loads(EXAMPLE.read_text())
    documented = {(section, key) for section, table in document.items() for key in table}
    assert documented == set(_TOML_KEYS)
    assert isinstance(load_settings(EXAMPLE, environ={}), Settings)

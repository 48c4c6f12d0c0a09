from __future__ import annotations

from pathlib import Path

import pytest

from callcore.config import Secret, Settings, load_settings, settings_reference
from callcore.errors import ConfigError


def test_defaults_are_valid() -> None:
    s = load_settings({})
    assert s.ari_app == "callcore"
    assert s.agi_port == 4573
    assert s.instance_id  # filled from the host name


def test_the_traces_directory_is_not_a_setting() -> None:
    # documented for the contract tests; the service started from the same shell must not refuse it
    assert load_settings({"CALLCORE_SHARED_DIR": "/srv/shared", "CALLCORE_HTTP_PORT": "9000"}).http_port == 9000


def test_env_overrides_and_types() -> None:
    s = load_settings({"CALLCORE_HTTP_PORT": "9000", "CALLCORE_AMI_ENABLED": "yes",
                       "CALLCORE_JOURNAL_FLUSH_INTERVAL": "0.5", "CALLCORE_ARI_PASSWORD": "pw"})
    assert s.http_port == 9000 and s.ami_enabled is True and s.journal_flush_interval == 0.5
    assert isinstance(s.ari_password, Secret) and s.ari_password.reveal() == "pw"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"CALLCORE_HTTP_PORT": "eighty"}, "CALLCORE_HTTP_PORT"),
        ({"CALLCORE_HTTP_PORT": "70000"}, "CALLCORE_HTTP_PORT"),
        ({"CALLCORE_AMI_ENABLED": "maybe"}, "CALLCORE_AMI_ENABLED"),
        ({"CALLCORE_ARI_URL": "ftp://x"}, "CALLCORE_ARI_URL"),
        ({"CALLCORE_LOG_LEVEL": "loud"}, "CALLCORE_LOG_LEVEL"),
        ({"CALLCORE_JOURNAL_BUFFER": "0"}, "CALLCORE_JOURNAL_BUFFER"),
        ({"CALLCORE_ARI_APP": "a,b"}, "CALLCORE_ARI_APP"),
        ({"CALLCORE_NO_SUCH_THING": "1"}, "CALLCORE_NO_SUCH_THING"),
        ({"CALLCORE_DATABASE_URL": "mysql://u:p@h/db"}, "CALLCORE_DATABASE_URL"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert info.value.setting == setting
    assert setting in str(info.value)


def test_secret_never_in_repr_or_error() -> None:
    s = load_settings({"CALLCORE_ARI_PASSWORD": "hunter2", "CALLCORE_DATABASE_URL": "postgresql://u:hunter2@h/d"})
    assert "hunter2" not in repr(s)
    with pytest.raises(ConfigError) as info:
        load_settings({"CALLCORE_DATABASE_URL": "mysql://u:hunter2@h/db"})
    assert "hunter2" not in str(info.value)


def test_toml_file_sections_and_env_precedence(tmp_path: Path) -> None:
    f = tmp_path / "callcore.toml"
    f.write_text('[ari]\nurl = "http://pbx:8088"\napp = "cc"\n[http]\nport = 8181\n', encoding="utf-8")
    s = load_settings({"CALLCORE_CONFIG": str(f), "CALLCORE_HTTP_PORT": "8282"})
    assert s.ari_url == "http://pbx:8088" and s.ari_app == "cc" and s.http_port == 8282


def test_toml_unknown_key_and_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[ari]\nurl_typo = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="ari_url_typo"):
        load_settings({"CALLCORE_CONFIG": str(f)})
    f.write_text("[ari\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"CALLCORE_CONFIG": str(f)})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"CALLCORE_CONFIG": str(tmp_path / "missing.toml")})


def test_settings_are_frozen_and_reference_covers_every_field() -> None:
    s = load_settings({})
    with pytest.raises(AttributeError):
        s.http_port = 1  # type: ignore[misc]
    names = {row[0] for row in settings_reference()}
    assert len(names) == len(Settings.__dataclass_fields__)
    assert "CALLCORE_ARI_PASSWORD" in names
    assert all("secret" not in row[1] or row[1] == "(secret)" for row in settings_reference())

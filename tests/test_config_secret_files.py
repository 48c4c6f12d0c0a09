"""Secrets from files: ``CALLCORE_X_FILE`` names a file holding the value of ``CALLCORE_X``.

The Docker/Kubernetes secrets convention: the value never sits in the environment, the file is mounted
read-only (``/run/secrets/...``).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from callcore import cli
from callcore.config import load_settings
from callcore.errors import ConfigError
from callcore.logs import configure_logging


def secret_file(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_file_value_is_the_setting_and_one_line_break_is_dropped(tmp_path: Path) -> None:
    s = load_settings({
        "CALLCORE_ARI_PASSWORD_FILE": secret_file(tmp_path, "ari", "s3cret-ari\n"),
        "CALLCORE_AMI_SECRET_FILE": secret_file(tmp_path, "ami", "s3cret ami\r\n"),
        "CALLCORE_DATABASE_URL_FILE": secret_file(tmp_path, "db", "postgresql://cc:pw@db/cc"),
        "CALLCORE_API_TOKENS_FILE": secret_file(tmp_path, "tok", "token-one=admin:ops\n\n"),
    })
    assert s.ari_password.reveal() == "s3cret-ari"
    assert s.ami_secret.reveal() == "s3cret ami"
    assert s.database_url.reveal() == "postgresql://cc:pw@db/cc"
    assert s.api_tokens.reveal() == "token-one=admin:ops\n"  # only one line break is the file's ending


def test_plain_settings_can_come_from_files_too(tmp_path: Path) -> None:
    s = load_settings({"CALLCORE_ARI_USER_FILE": secret_file(tmp_path, "user", "pbx-user\n")})
    assert s.ari_user == "pbx-user"


def test_both_forms_set_is_refused_naming_the_file_setting(tmp_path: Path) -> None:
    env = {"CALLCORE_ARI_PASSWORD": "a", "CALLCORE_ARI_PASSWORD_FILE": secret_file(tmp_path, "ari", "b")}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert info.value.setting == "CALLCORE_ARI_PASSWORD_FILE"
    assert "CALLCORE_ARI_PASSWORD" in info.value.problem


@pytest.mark.parametrize("kind", ["missing", "directory", "unreadable", "binary"])
def test_unreadable_file_is_refused_naming_the_setting_and_path(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "secret"
    if kind == "directory":
        path.mkdir()
    elif kind == "unreadable":
        path.write_text("x", encoding="utf-8")
        path.chmod(0)
        if os.access(path, os.R_OK):
            pytest.skip("running as root: file permissions do not stop reading")
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00secret")
    with pytest.raises(ConfigError) as info:
        load_settings({"CALLCORE_AMI_SECRET_FILE": str(path)})
    assert info.value.setting == "CALLCORE_AMI_SECRET_FILE"
    assert str(path) in info.value.problem


def test_file_value_is_validated_like_the_plain_value_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"CALLCORE_DATABASE_URL_FILE": secret_file(tmp_path, "db", "mysql://u:hunter2@h/db\n")})
    assert info.value.setting == "CALLCORE_DATABASE_URL"
    assert "hunter2" not in str(info.value)


def test_unknown_file_setting_is_still_unknown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"CALLCORE_NO_SUCH_FILE": secret_file(tmp_path, "x", "1")})
    assert info.value.setting == "CALLCORE_NO_SUCH_FILE"


@pytest.mark.parametrize("case", ["both", "missing"])
def test_cli_exits_2_naming_the_file_setting(tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for key in [k for k in os.environ if k.startswith("CALLCORE_")]:
        monkeypatch.delenv(key)
    if case == "both":
        monkeypatch.setenv("CALLCORE_ARI_PASSWORD", "hunter2")
        monkeypatch.setenv("CALLCORE_ARI_PASSWORD_FILE", secret_file(tmp_path, "ari", "hunter3"))
    else:
        monkeypatch.setenv("CALLCORE_ARI_PASSWORD_FILE", str(tmp_path / "nope"))
    assert cli.main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert "CALLCORE_ARI_PASSWORD_FILE" in err
    assert "hunter" not in err


def test_secret_read_from_a_file_never_reaches_a_log_line(tmp_path: Path) -> None:
    s = load_settings({"CALLCORE_ARI_PASSWORD_FILE": secret_file(tmp_path, "ari", "hunter2\n"),
                       "CALLCORE_DATABASE_URL_FILE": secret_file(tmp_path, "db", "postgresql://u:hunter3@db/x")})
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    import structlog

    structlog.get_logger("t").info("settings", settings=repr(s), ari_password=s.ari_password,
                                   dsn=s.database_url.reveal())
    line = json.loads(out.getvalue())
    assert "hunter" not in out.getvalue(), line

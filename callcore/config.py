"""Settings: one typed, frozen object built once from ``CALLCORE_*`` env and an optional TOML file.

Every setting has a default, an environment name (``CALLCORE_`` + the field name in upper case) and a
TOML key (the same name in lower case, either flat or as ``[section] key`` where the section is the
part before the first underscore, e.g. ``[ari] url`` for ``ari_url``). The environment wins over the file.
A bad value stops start-up with a ConfigError naming the setting. Secrets are wrapped in ``Secret`` so
that they never reach a log line or a repr.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from callcore.errors import ConfigError

ENV_PREFIX = "CALLCORE_"
# CALLCORE_* variables that are not service settings: the recorded Asterisk traces the contract tests and
# benchmarks read (callcore/ari/traces.py), so a shell that runs them can also run the service
NOT_SETTINGS = frozenset({"shared_dir"})


class Secret:
    """A string that shows as ``'***'`` everywhere except ``.reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def _doc(text: str, **kw: Any) -> Any:
    return field(metadata={"doc": text}, **kw)


@dataclass(frozen=True, slots=True)
class Settings:
    # ARI
    ari_url: str = _doc("Base URL of Asterisk's HTTP server (ARI lives under /ari).",
                        default="http://127.0.0.1:8088")
    ari_user: str = _doc("ARI user (ari.conf).", default="callcore")
    ari_password: Secret = _doc("ARI password (ari.conf).", default=Secret("callcore-secret"))
    ari_app: str = _doc("Stasis application name used in the dialplan.", default="callcore")
    ari_timeout: float = _doc("Per-request ARI timeout, seconds.", default=5.0)
    ari_heartbeat: float = _doc("Websocket ping interval, seconds.", default=10.0)
    ari_reconnect_max: float = _doc(
        "Cap of the websocket reconnect backoff, seconds (callcore is back within this time after Asterisk is).",
        default=2.0)
    acd_dialplan_moh: bool = _doc(
        "The dialplan answers inbound calls and starts music on hold before Stasis() (Answer(), "
        "StartMusicOnHold(<class>)): the ACD then starts no MOH of its own when a caller enters the queue "
        "(it still stops MOH when the caller is bridged, and restarts it after announcements).", default=False)
    # AMI
    ami_enabled: bool = _doc("Connect to AMI (registration status, health).", default=False)
    ami_host: str = _doc("AMI host.", default="127.0.0.1")
    ami_port: int = _doc("AMI port.", default=5038)
    ami_user: str = _doc("AMI user (manager.conf).", default="callcore")
    ami_secret: Secret = _doc("AMI secret (manager.conf).", default=Secret("callcore-secret"))
    ami_timeout: float = _doc("Timeout of every AMI action, seconds.", default=5.0)
    ami_ping_interval: float = _doc("AMI Ping interval, seconds.", default=15.0)
    # FastAGI
    agi_enabled: bool = _doc("Serve FastAGI hooks.", default=True)
    agi_host: str = _doc("FastAGI listen address.", default="127.0.0.1")
    agi_port: int = _doc("FastAGI listen port.", default=4573)
    agi_max_sessions: int = _doc("Cap on concurrent FastAGI sessions.", default=200)
    agi_session_timeout: float = _doc("Whole-session FastAGI timeout, seconds.", default=10.0)
    # PostgreSQL
    database_url: Secret = _doc(
        "PostgreSQL DSN. Empty: use a local server (127.0.0.1:5432) or start a private cluster.",
        default=Secret(""))
    db_pool_size: int = _doc("asyncpg pool size.", default=5)
    # Journal
    journal_buffer: int = _doc("Events kept in memory before spilling to disk.", default=50_000)
    journal_batch: int = _doc("Max events written per batch.", default=5_000)
    journal_flush_interval: float = _doc("Flush interval, seconds.", default=0.2)
    journal_spill_dir: str = _doc("Directory of the journal spill files (empty: <state_dir>/spill).", default="")
    # HTTP API
    http_host: str = _doc("HTTP API listen address.", default="127.0.0.1")
    http_port: int = _doc("HTTP API port (/healthz, /readyz, /metrics, operator API).", default=8080)
    api_tokens: Secret = _doc(
        "Comma-separated static tokens 'token=role:name' (role agent|supervisor|admin). Agents also get "
        "per-agent tokens from the database.", default=Secret(""))
    web_session_hours: float = _doc("Lifetime of a desktop/wallboard sign-in session, hours.", default=12.0)
    web_secure_cookie: bool = _doc("Mark the session cookie Secure (serve the pages over HTTPS).", default=False)
    pause_reasons: str = _doc("Comma-separated pause reasons offered on the operator desktop.",
                              default="break,lunch,training,meeting,coaching")
    callback_caller_id: str = _doc(
        "Caller id shown to customers called back after a callback request (empty: the trunk's).", default="")
    # Phone numbers
    phone_region: str = _doc(
        "Country (ISO 3166 code) of phone numbers written without +CC: FastAGI routing, callcore route, lead "
        "upload and the do-not-call list.", default="RU")
    # Logging / identity
    log_level: str = _doc("debug, info, warning or error.", default="info")
    log_format: str = _doc("auto (console on a TTY, JSON otherwise), json or console.", default="auto")
    instance_id: str = _doc("Name of this callcore instance (defaults to the host name).", default="")
    state_dir: str = _doc(
        "Directory of this instance's local state: configuration cache, journal spill files, local logs; "
        "keep it on one persistent volume (empty: the parent of journal_spill_dir when that is set, "
        "else .callcore).", default="")

    def __post_init__(self) -> None:
        # one directory holds every local file; the spill directory is inside it unless set on its own
        if not self.journal_spill_dir:
            object.__setattr__(self, "journal_spill_dir", str(Path(self.state_dir or ".callcore") / "spill"))

    @property
    def state_path(self) -> Path:
        """The directory of this instance's local state (``state_dir``, else the spill directory's parent)."""
        return Path(self.state_dir) if self.state_dir else Path(self.journal_spill_dir).parent

    @property
    def config_cache_path(self) -> Path:
        """The last queue/agent configuration read from PostgreSQL (used when it is down at start-up)."""
        return self.state_path / "config-cache.json"

    def validate(self) -> Settings:
        def bad(name: str, problem: str) -> ConfigError:
            return ConfigError(ENV_PREFIX + name.upper(), problem)

        for name in ("ari_url",):
            parts = urlsplit(getattr(self, name))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise bad(name, f"must be an http(s) URL, got {getattr(self, name)!r}")
        for name in ("ami_port", "agi_port", "http_port"):
            v = getattr(self, name)
            if not 0 <= v <= 65535:
                raise bad(name, f"must be a port number 0..65535, got {v}")
        for name in ("ari_timeout", "ari_heartbeat", "ari_reconnect_max", "ami_timeout", "ami_ping_interval",
                     "agi_session_timeout", "journal_flush_interval"):
            if getattr(self, name) <= 0:
                raise bad(name, f"must be > 0, got {getattr(self, name)}")
        for name in ("agi_max_sessions", "db_pool_size", "journal_buffer", "journal_batch"):
            if getattr(self, name) < 1:
                raise bad(name, f"must be >= 1, got {getattr(self, name)}")
        import phonenumbers

        if self.phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise bad("phone_region", f"must be a country code such as RU, US or GB, got {self.phone_region!r}")
        if not 0 < self.web_session_hours <= 24 * 30:
            raise bad("web_session_hours", f"must be > 0 and at most 720, got {self.web_session_hours}")
        if not [r for r in self.pause_reasons.split(",") if r.strip()]:
            raise bad("pause_reasons", "must name at least one reason")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise bad("log_level", f"must be debug, info, warning or error, got {self.log_level!r}")
        if self.log_format not in ("auto", "json", "console"):
            raise bad("log_format", f"must be auto, json or console, got {self.log_format!r}")
        if not self.ari_app or any(c in self.ari_app for c in ",/ "):
            raise bad("ari_app", f"must be a plain name, got {self.ari_app!r}")
        db = self.database_url.reveal()
        if db and urlsplit(db).scheme not in ("postgres", "postgresql"):
            raise bad("database_url", "must start with postgresql:// (value not shown)")
        from callcore.http.auth import parse_static_tokens  # the one parser of the token list

        parse_static_tokens(self.api_tokens)
        return self

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes).validate()


def _convert(name: str, raw: Any, typ: Any) -> Any:
    setting = ENV_PREFIX + name.upper()
    try:
        if typ in (Secret, "Secret"):
            return Secret(str(raw))
        if typ in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"expected true/false, got {raw!r}")
        if typ in (int, "int"):
            if isinstance(raw, bool):
                raise ValueError(f"expected an integer, got {raw!r}")
            return int(raw)
        if typ in (float, "float"):
            return float(raw)
        return str(raw)
    except ValueError as exc:
        raise ConfigError(setting, str(exc) if "expected" in str(exc) else f"bad value {raw!r} ({exc})") from None


def _flatten_toml(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            for sub, v in value.items():
                if isinstance(v, Mapping):
                    raise ConfigError(f"{path}: [{key}.{sub}]", "nested tables are not settings")
                out[f"{key}_{sub}".lower()] = v
        else:
            out[key.lower()] = value
    return out


def _read_setting_file(key: str, path: str, env: Mapping[str, str]) -> str:
    """``CALLCORE_X_FILE``: the value of CALLCORE_X is the file's content (Docker and Kubernetes secrets).

    One trailing line break is dropped. The content is never part of an error message.
    """
    plain = key[:-len("_FILE")]
    if plain in env:
        raise ConfigError(key, f"is set together with {plain}: set only one of them")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(key, f"cannot read the file {path!r}: {reason}") from None
    return text.removesuffix("\n").removesuffix("\r")


def load_settings(env: Mapping[str, str] | None = None, toml_path: str | Path | None = None) -> Settings:
    """Build Settings from a TOML file (``CALLCORE_CONFIG`` or ``toml_path``) and the environment."""
    env = os.environ if env is None else env
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = toml_path or env.get(ENV_PREFIX + "CONFIG")
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(ENV_PREFIX + "CONFIG", f"file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(ENV_PREFIX + "CONFIG", f"{p} is not valid TOML: {exc}") from None
        for key, value in _flatten_toml(data, str(p)).items():
            if key not in known:
                raise ConfigError(f"{p}: {key}", "unknown setting")
            values[key] = _convert(key, value, known[key].type)
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in known and name.endswith("_file") and name[:-5] in known:
            name, value = name[:-5], _read_setting_file(key, value, env)
        elif name not in known:
            if name.startswith("test_") or name in NOT_SETTINGS:
                continue
            raise ConfigError(key, "unknown setting (see the configuration reference in README.md)")
        values[name] = _convert(name, value, known[name].type)
    settings = Settings(**values)
    if not settings.instance_id:
        settings = dataclasses.replace(settings, instance_id=os.uname().nodename)
    return settings.validate()


def settings_reference() -> list[tuple[str, str, str]]:
    """(env name, default, description) for every setting: used to generate the README table."""
    rows = []
    for f in fields(Settings):
        default = f.default
        shown = "(secret)" if isinstance(default, Secret) else repr(default)
        rows.append((ENV_PREFIX + f.name.upper(), shown, str(f.metadata.get("doc", ""))))
    return rows

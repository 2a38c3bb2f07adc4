"""Reads ketaflow's configuration from the environment (12-factor) and refuses unsafe production setups.

`load_config(environ)` is pure: it takes a mapping and returns a frozen `Config`, or raises
`InsecureConfiguration` naming every problem, so the rules can be tested without starting Django.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONSOLE_SMS_BACKEND = "ketaflow.measurement.sms.ConsoleSMSBackend"
MODES = ("production", "demo", "development", "test")
DEVELOPMENT_SECRET_KEY = "django-insecure-ketaflow-development-key-never-use-in-production"
KNOWN_DEFAULT_KEYS = frozenset({DEVELOPMENT_SECRET_KEY, "changeme", "secret", "django-insecure"})
MIN_SECRET_KEY_LENGTH = 50


class InsecureConfiguration(RuntimeError):
    """Production settings that must not be served; the message lists every problem."""


@dataclass(frozen=True)
class Config:
    mode: str
    debug: bool
    secret_key: str
    data_dir: Path
    database_url: str
    allowed_hosts: tuple[str, ...]
    csrf_trusted_origins: tuple[str, ...]
    idle_timeout_minutes: int
    require_two_factor: bool
    secure_cookies: bool
    behind_tls_proxy: bool
    email_url: str
    log_level: str
    base_url: str = "http://127.0.0.1:8000"
    sms_backend: str = CONSOLE_SMS_BACKEND

    @property
    def is_production(self) -> bool:
        return self.mode == "production"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise InsecureConfiguration(f"expected a yes/no value, got {value!r}")


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """Where the demo keeps its SQLite database, secret key and collected static files."""
    return Path(environ.get("KETAFLOW_DATA_DIR") or Path.cwd() / "var").resolve()


def _demo_secret_key(data_dir: Path) -> str:
    """A random key kept in the data directory, so demo sessions survive a restart."""
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build the configuration for `environ` (default: the process environment).

    Raises `InsecureConfiguration` in production mode when the secret key is missing, short or a
    known default, DEBUG is on, no allowed host is named, or two-factor is switched off.
    """
    env = os.environ if environ is None else environ
    mode = env.get("KETAFLOW_MODE", "production").strip().lower()
    if mode not in MODES:
        raise InsecureConfiguration(f"KETAFLOW_MODE must be one of {', '.join(MODES)}; got {mode!r}")
    data_dir = default_data_dir(env)
    production = mode == "production"
    debug = _flag(env.get("KETAFLOW_DEBUG"), default=mode == "development")

    secret_key = env.get("KETAFLOW_SECRET_KEY", "")
    if not secret_key:
        secret_key = _demo_secret_key(data_dir) if mode == "demo" else DEVELOPMENT_SECRET_KEY

    hosts = _list(env.get("KETAFLOW_ALLOWED_HOSTS"))
    if not hosts and not production:
        hosts = ("127.0.0.1", "localhost", "[::1]", "testserver")

    require_two_factor = _flag(env.get("KETAFLOW_REQUIRE_2FA"), default=mode in {"production"})
    problems: list[str] = []
    if production:
        if secret_key in KNOWN_DEFAULT_KEYS or secret_key.startswith("django-insecure"):
            problems.append("KETAFLOW_SECRET_KEY is missing or a known default; set a random key")
        elif len(secret_key) < MIN_SECRET_KEY_LENGTH or len(set(secret_key)) < 5:
            problems.append(f"KETAFLOW_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} random characters")
        if debug:
            problems.append("KETAFLOW_DEBUG must be off in production")
        if not hosts or "*" in hosts:
            problems.append("KETAFLOW_ALLOWED_HOSTS must name the host names this server answers to")
        if not require_two_factor:
            problems.append("two-factor authentication cannot be switched off in production")
    base_url = (env.get("KETAFLOW_BASE_URL") or ("" if production else "http://127.0.0.1:8000")).rstrip("/")
    if production and not base_url.startswith("https://"):
        problems.append("KETAFLOW_BASE_URL must be the https:// address patients and staff open links at")
    if problems:
        raise InsecureConfiguration("refusing to start in production mode: " + "; ".join(problems))

    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'ketaflow.sqlite3'}"
    idle = env.get("KETAFLOW_IDLE_TIMEOUT_MINUTES", "15")
    if not idle.isdigit() or not 1 <= int(idle) <= 24 * 60:
        raise InsecureConfiguration("KETAFLOW_IDLE_TIMEOUT_MINUTES must be a whole number, 1-1440")
    behind_proxy = _flag(env.get("KETAFLOW_BEHIND_TLS_PROXY"), default=production)
    return Config(
        mode=mode,
        debug=debug,
        secret_key=secret_key,
        data_dir=data_dir,
        database_url=database_url,
        allowed_hosts=hosts,
        csrf_trusted_origins=_list(env.get("KETAFLOW_CSRF_TRUSTED_ORIGINS")),
        idle_timeout_minutes=int(idle),
        require_two_factor=require_two_factor,
        secure_cookies=_flag(env.get("KETAFLOW_SECURE_COOKIES"), default=production),
        behind_tls_proxy=behind_proxy,
        email_url=env.get("KETAFLOW_EMAIL_URL", "" if production else "console:"),
        log_level=env.get("KETAFLOW_LOG_LEVEL", "INFO").upper(),
        base_url=base_url,
        sms_backend=env.get("KETAFLOW_SMS_BACKEND", "" if production else CONSOLE_SMS_BACKEND),
    )

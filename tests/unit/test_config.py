"""Production refuses insecure settings; the rules live in config/env.py and are pure."""

import pytest

from ketaflow.config.env import DEVELOPMENT_SECRET_KEY, InsecureConfiguration, load_config

GOOD_KEY = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ" * 2


def production(**overrides):
    env = {
        "KETAFLOW_MODE": "production",
        "KETAFLOW_SECRET_KEY": GOOD_KEY,
        "KETAFLOW_ALLOWED_HOSTS": "clinic.example.org",
        "KETAFLOW_BASE_URL": "https://clinic.example.org",
        "KETAFLOW_DATA_DIR": "/tmp/kf-config-test",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_a_complete_production_configuration_loads_with_secure_defaults():
    config = load_config(production())
    assert config.is_production and not config.debug
    assert config.require_two_factor and config.secure_cookies
    assert config.idle_timeout_minutes == 15


@pytest.mark.parametrize("key", [None, "", DEVELOPMENT_SECRET_KEY, "django-insecure-abc", "short"])
def test_production_refuses_a_missing_default_or_short_secret_key(key):
    with pytest.raises(InsecureConfiguration, match="KETAFLOW_SECRET_KEY"):
        load_config(production(KETAFLOW_SECRET_KEY=key))


def test_production_refuses_debug():
    with pytest.raises(InsecureConfiguration, match="KETAFLOW_DEBUG must be off"):
        load_config(production(KETAFLOW_DEBUG="1"))


def test_production_refuses_a_wildcard_or_missing_host():
    with pytest.raises(InsecureConfiguration, match="ALLOWED_HOSTS"):
        load_config(production(KETAFLOW_ALLOWED_HOSTS="*"))
    with pytest.raises(InsecureConfiguration, match="ALLOWED_HOSTS"):
        load_config(production(KETAFLOW_ALLOWED_HOSTS=None))


def test_production_refuses_to_switch_two_factor_off():
    with pytest.raises(InsecureConfiguration, match="two-factor"):
        load_config(production(KETAFLOW_REQUIRE_2FA="0"))


def test_every_problem_is_named_at_once():
    with pytest.raises(InsecureConfiguration) as caught:
        load_config(production(KETAFLOW_SECRET_KEY=None, KETAFLOW_DEBUG="yes"))
    assert "KETAFLOW_SECRET_KEY" in str(caught.value) and "DEBUG" in str(caught.value)


def test_the_idle_timeout_is_configurable_and_validated():
    assert load_config(production(KETAFLOW_IDLE_TIMEOUT_MINUTES="5")).idle_timeout_minutes == 5
    with pytest.raises(InsecureConfiguration, match="IDLE_TIMEOUT"):
        load_config(production(KETAFLOW_IDLE_TIMEOUT_MINUTES="0"))


def test_demo_mode_keeps_a_random_secret_key_in_the_data_directory(tmp_path):
    first = load_config({"KETAFLOW_MODE": "demo", "KETAFLOW_DATA_DIR": str(tmp_path)})
    again = load_config({"KETAFLOW_MODE": "demo", "KETAFLOW_DATA_DIR": str(tmp_path)})
    assert first.secret_key == again.secret_key and len(first.secret_key) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert not first.require_two_factor


def test_an_unknown_mode_is_refused():
    with pytest.raises(InsecureConfiguration, match="KETAFLOW_MODE"):
        load_config({"KETAFLOW_MODE": "prod"})


def test_sqlite_under_the_data_directory_is_the_default_database(tmp_path):
    config = load_config({"KETAFLOW_MODE": "development", "KETAFLOW_DATA_DIR": str(tmp_path)})
    assert config.database_url == f"sqlite:///{tmp_path}/ketaflow.sqlite3"
    assert (
        load_config({"KETAFLOW_MODE": "development", "DATABASE_URL": "postgres://x@h/db"}).database_url
        == "postgres://x@h/db"
    )


def test_production_refuses_a_base_url_that_is_not_https() -> None:
    with pytest.raises(InsecureConfiguration, match="KETAFLOW_BASE_URL"):
        load_config(production(KETAFLOW_BASE_URL="http://clinic.example.org"))

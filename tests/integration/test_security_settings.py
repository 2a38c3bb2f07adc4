"""Settings that protect patients: hashing, sessions, headers, and no PHI in logs."""

from __future__ import annotations

import logging

from django.conf import settings

from ketaflow.config import settings as production_settings
from ketaflow.config.logging import RedactRequestDataFilter


def test_passwords_are_hashed_with_argon2_in_every_deployed_mode():
    assert production_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_an_idle_session_ends_after_the_configured_minutes():
    assert settings.SESSION_COOKIE_AGE == settings.KETAFLOW_IDLE_TIMEOUT_MINUTES * 60 == 900
    assert settings.SESSION_SAVE_EVERY_REQUEST and settings.SESSION_COOKIE_HTTPONLY


def test_login_throttling_locks_after_five_failures_per_user_and_address():
    assert "axes" in settings.INSTALLED_APPS and settings.AXES_FAILURE_LIMIT == 5
    assert settings.AUTHENTICATION_BACKENDS[0].startswith("axes.")


def test_the_content_security_policy_allows_no_inline_script():
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["script-src"] == ["'self'"] and directives["frame-ancestors"] == ["'none'"]


def test_the_log_filter_cuts_query_strings_and_drops_the_request():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/patients/?q=Zzyzxsurname",), None
    )
    record.request = object()
    assert RedactRequestDataFilter().filter(record)
    assert "Zzyzxsurname" not in record.getMessage() and record.request is None

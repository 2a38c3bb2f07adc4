"""Settings for the test suite: the same settings module, in test mode."""

import os

os.environ.setdefault("KETAFLOW_MODE", "test")

from ketaflow.config.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; prod is Argon2
# The Django test client's transaction is invisible to another thread: run bulk exports inline.
KETAFLOW_FHIR_EXPORT_INLINE = True

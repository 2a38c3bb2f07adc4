"""WSGI entry point, served by gunicorn (`ketaflow serve`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaflow.config.settings")
application = get_wsgi_application()

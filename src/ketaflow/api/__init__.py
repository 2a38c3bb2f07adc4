"""The JSON API (django-ninja): `ketaflow.api.app.api`, mounted at /api/ by `config/urls.py`."""

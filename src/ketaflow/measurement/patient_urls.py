"""Patient-facing single-use questionnaire links, mounted at /q/ (no sign-in)."""

from django.urls import path

from . import patient_views

app_name = "patient_links"
urlpatterns = [
    path("<str:token>/", patient_views.answer_link, name="answer"),
]

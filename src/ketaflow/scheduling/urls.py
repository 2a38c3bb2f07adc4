from django.urls import path

from . import booking_views, settings_views

app_name = "scheduling"

urlpatterns = [
    path("patients/<uuid:patient_id>/book/", booking_views.book, name="book"),
    path("plans/<uuid:plan_id>/series/", booking_views.series, name="series"),
    path("appointments/<uuid:appointment_id>/", booking_views.appointment, name="appointment"),
    path("waitlist/", booking_views.waitlist_page, name="waitlist"),
    path("settings/types/", settings_views.types, name="types"),
    path("settings/hours/", settings_views.hours, name="hours"),
    path("settings/closed-days/", settings_views.closed_days, name="closed_days"),
]

from .calendar_urls import urlpatterns as calendar_urlpatterns  # noqa: E402

urlpatterns += calendar_urlpatterns

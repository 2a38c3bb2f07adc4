"""The calendar pages and feeds, included by `urls.py` into the "scheduling" namespace (/schedule/).

Everything under p/ is patient-facing: the public .ics feed (a secret token, no sign-in) and the
portal's "Add to my calendar" page; the access middleware lets portal logins open /schedule/p/.
"""

from django.urls import path

from . import calendar_views

urlpatterns = [
    path("calendar/", calendar_views.day, name="day"),
    path("calendar/week/", calendar_views.week, name="week"),
    path("calendar/my-feed/", calendar_views.my_feed, name="my_feed"),
    path("patients/<uuid:patient_id>/calendar-feed/", calendar_views.patient_feed, name="patient_feed"),
    path("p/feeds/<slug:token>.ics", calendar_views.feed, name="feed"),
    path("p/calendar/", calendar_views.portal_feed, name="portal_feed"),
]

"""The patient's at-home session pages, added by the lead to the `sessions` namespace
(`urlpatterns += home_urlpatterns`). Everything is under p/, the prefix portal logins may open
(/sessions/p/ in the access middleware's PATIENT_PREFIXES)."""

from django.urls import path

from . import home_views

urlpatterns = [
    path("p/home/", home_views.home_start, name="home_start"),
    path("p/home/<uuid:session_id>/", home_views.home_session, name="home_session"),
    path("p/home/<uuid:session_id>/monitor/", home_views.home_monitor, name="home_monitor"),
    path("p/home/<uuid:session_id>/dose/", home_views.home_dose, name="home_dose"),
    path("p/home/<uuid:session_id>/check-in/", home_views.home_check_in, name="home_check_in"),
]

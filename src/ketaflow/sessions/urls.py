"""Treatment sessions, mounted at /sessions/: today's board, check-in, the chairside page, its
actions (each POST-only, answering HTMX with the page body) and the live chart it polls."""

from django.urls import path

from . import settings_views, views_actions, views_board, views_session
from .home_urls import urlpatterns as home_patterns
from .rems_urls import urlpatterns as rems_patterns

app_name = "sessions"
urlpatterns = [
    path("", views_board.today, name="today"),
    path("check-in/<uuid:appointment_id>/", views_board.check_in, name="check_in"),
    path("<uuid:session_id>/", views_session.detail, name="detail"),
    path("<uuid:session_id>/chart/", views_session.chart, name="chart"),
    path("<uuid:session_id>/checklist/", views_actions.checklist, name="checklist"),
    path("<uuid:session_id>/override/", views_actions.override, name="override"),
    path("<uuid:session_id>/cancel/", views_actions.cancel, name="cancel"),
    path("<uuid:session_id>/prepare/", views_actions.prepare, name="prepare"),
    path("<uuid:session_id>/preparations/<uuid:preparation_id>/verify/", views_actions.verify, name="verify"),
    path("<uuid:session_id>/events/", views_actions.event, name="event"),
    path("<uuid:session_id>/vitals/", views_actions.vitals_entry, name="vitals"),
    path(
        "<uuid:session_id>/alerts/<uuid:vital_alert_id>/respond/",
        views_actions.alert_respond,
        name="alert_respond",
    ),
    path("<uuid:session_id>/side-effects/", views_actions.side_effect, name="side_effect"),
    path(
        "<uuid:session_id>/side-effects/<uuid:side_effect_id>/resolve/",
        views_actions.side_effect_resolve,
        name="side_effect_resolve",
    ),
    path("<uuid:session_id>/rescue/", views_actions.rescue, name="rescue"),
    path("<uuid:session_id>/scores/", views_actions.score, name="score"),
    path("<uuid:session_id>/aldrete/", views_actions.aldrete, name="aldrete"),
    path("<uuid:session_id>/discharge/", views_actions.discharge, name="discharge"),
    path("<uuid:session_id>/sign/", views_actions.sign, name="sign"),
    path("<uuid:session_id>/amend/", views_actions.amend, name="amend"),
]
urlpatterns += [path("settings/", settings_views.session_settings_page, name="settings")]
urlpatterns += rems_patterns + home_patterns

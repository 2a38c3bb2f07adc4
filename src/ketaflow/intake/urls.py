"""The intake, mounted at /intake/: staff actions, the portal pages, then the link pages.

Staff and portal routes come first, so their fixed segments win over a link token.
"""

from django.urls import path

from . import patient_views, staff_views

app_name = "intake"
urlpatterns = [
    path("patients/<uuid:patient_id>/issue/", staff_views.issue, name="issue"),
    path("reviewed/<uuid:intake_id>/", staff_views.reviewed, name="reviewed"),
    path("portal/", patient_views.portal_start, name="portal"),
    path("portal/review/", patient_views.portal_review, name="portal_review"),
    path("portal/s/<slug:section_id>/", patient_views.portal_section, name="portal_section"),
    path("<str:token>/", patient_views.link_start, name="link"),
    path("<str:token>/review/", patient_views.link_review, name="link_review"),
    path("<str:token>/s/<slug:section_id>/", patient_views.link_section, name="link_section"),
]

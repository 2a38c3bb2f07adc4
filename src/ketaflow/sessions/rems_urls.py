"""The REMS pages, added by the lead to the `sessions` namespace (/sessions/):
`urlpatterns += rems_urlpatterns`."""

from django.urls import path

from . import rems_views

urlpatterns = [
    path("rems/", rems_views.rems_board, name="rems_board"),
    path("rems/forms/<uuid:form_id>/", rems_views.rems_form, name="rems_form"),
    path("rems/forms/<uuid:form_id>/pdf/", rems_views.rems_pdf, name="rems_pdf"),
    path("rems/forms/<uuid:form_id>/submit/", rems_views.rems_submit, name="rems_submit"),
    path("rems/patients/<uuid:patient_id>/enrol/", rems_views.rems_enrol, name="rems_enrol"),
]

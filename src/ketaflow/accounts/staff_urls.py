from django.urls import path

from . import staff_views

app_name = "staff"
urlpatterns = [
    path("", staff_views.staff_list, name="list"),
    path("new/", staff_views.staff_create, name="create"),
    path("<uuid:staff_id>/", staff_views.staff_edit, name="edit"),
    path("<uuid:staff_id>/deactivate/", staff_views.staff_deactivate, name="deactivate"),
    path("<uuid:staff_id>/reactivate/", staff_views.staff_reactivate, name="reactivate"),
    path("<uuid:staff_id>/reset-password/", staff_views.staff_reset_password, name="reset_password"),
    path("<uuid:staff_id>/reset-two-factor/", staff_views.staff_reset_two_factor, name="reset_two_factor"),
]

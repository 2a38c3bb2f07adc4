from django.urls import path

from . import views

app_name = "clinics"
urlpatterns = [
    path("", views.clinic_list, name="list"),
    path("clinics/new/", views.clinic_create, name="create"),
    path("clinics/<uuid:clinic_id>/", views.clinic_edit, name="edit"),
    path("clinics/<uuid:clinic_id>/hours/", views.clinic_hours, name="hours"),
    path("clinics/<uuid:clinic_id>/rooms/", views.room_list, name="rooms"),
    path("clinics/<uuid:clinic_id>/rooms/<uuid:room_id>/", views.room_edit, name="room_edit"),
]

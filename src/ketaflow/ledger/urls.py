"""Controlled-substance ledger pages, mounted at /ledger/ (namespace `ledger`)."""

from django.urls import path

from . import count_views, report_views, setup_views, views

app_name = "ledger"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("receive/", views.receive, name="receive"),
    path("waste/", views.waste, name="waste"),
    path("transfer/", views.transfer, name="transfer"),
    path("lots/<uuid:lot_id>/", views.lot_detail, name="lot"),
    path("count/", count_views.count, name="count"),
    path("counts/<uuid:count_id>/", count_views.count_detail, name="count_detail"),
    path("reports/", report_views.reports, name="reports"),
    path("reports/download/", report_views.report_file, name="report_file"),
    path("setup/", setup_views.ledger_setup, name="setup"),
]

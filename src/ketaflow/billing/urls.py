"""Billing pages, mounted at /billing/."""

from django.urls import path

from . import invoice_views, views

app_name = "billing"
urlpatterns = [
    path("prices/", views.price_list, name="prices"),
    path("settings/", views.billing_settings, name="settings"),
    path("plans/<uuid:plan_id>/estimate/", views.estimate, name="estimate"),
    path("invoices/", invoice_views.invoice_list, name="invoices"),
    path("patients/<uuid:patient_id>/invoices/new/", invoice_views.new_invoice, name="new_invoice"),
    path("invoices/<uuid:invoice_id>/", invoice_views.invoice_detail, name="invoice"),
    path("invoices/<uuid:invoice_id>/actions/", invoice_views.invoice_action, name="invoice_action"),
    path("invoices/<uuid:invoice_id>/superbill.pdf", invoice_views.superbill, name="superbill"),
]

"""Back-office admin for platform operators (superusers).

Patient data is deliberately not registered here: every read of it must go through the audited
services, which the Django admin would bypass.
"""

from django.contrib import admin

from .models import Clinic, OpeningHours, Organization, Room


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0
    fields = ("organization", "weekday", "opens", "closes")


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ("organization", "name", "kind", "is_active", "notes")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "country", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("next_mrn", "created_at")


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "city", "timezone", "is_active")
    list_filter = ("organization", "is_active")
    search_fields = ("name", "city")
    inlines = [OpeningHoursInline, RoomInline]

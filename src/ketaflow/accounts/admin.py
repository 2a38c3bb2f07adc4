from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, StaffMember, StaffRole, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "first_name", "last_name", "organization", "is_active", "is_superuser")
    list_filter = ("organization", "is_active", "is_superuser")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("ketaflow", {"fields": ("organization", "must_change_password", "two_factor_exempt")}),
    )


class StaffRoleInline(admin.TabularInline):
    model = StaffRole
    extra = 0
    fields = ("organization", "role")


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ("__str__", "organization", "credential", "licence_number")
    list_filter = ("organization", "credential")
    search_fields = ("user__username", "user__last_name", "npi")
    inlines = [StaffRoleInline]
    filter_horizontal = ("clinics",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "key_hint", "created_at", "last_used_at", "revoked_at")
    list_filter = ("organization",)
    readonly_fields = ("user", "organization", "name", "key_hint", "created_at", "last_used_at")
    fields = ("user", "organization", "name", "key_hint", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request):
        return False  # tokens are issued with `ketaflow token create`, which shows the token once

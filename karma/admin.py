from django.contrib import admin
from django.utils.html import format_html_join

from karma import config, store
from karma.models import GuildSettings, Karma, LedgerEntry, SettingChange


@admin.register(Karma)
class KarmaAdmin(admin.ModelAdmin):
    list_display = ("subject", "karma", "guild_id", "updated_at")
    list_filter = ("guild_id",)
    search_fields = ("subject",)
    ordering = ("-karma", "subject")
    fields = ("guild_id", "subject", "karma")
    REASONS = 20  # the subject's page shows the reasons of its last this many changes that gave one

    def get_fields(self, request, obj=None):
        return (*self.fields, "reasons") if obj else self.fields

    def get_readonly_fields(self, request, obj=None):
        # A subject is renamed or moved by nobody: its ledger would no longer add up.
        return ("guild_id", "subject", "reasons") if obj else ()

    @admin.display(description="reasons")
    def reasons(self, obj):
        """Why the subject's karma changed, newest first (the ledger has every change)."""
        changes = store.reasons(obj.guild_id, obj.subject, self.REASONS)
        if not changes:
            return "No reasons recorded yet."
        return format_html_join(
            "",
            "<p>{} {} by {}: {}</p>",
            ((created_at.strftime("%Y-%m-%d %H:%M"), f"{delta:+d}", author or "someone", reason)
             for _, delta, author, created_at, reason in changes),
        )  # fmt: skip

    def save_model(self, request, obj, form, change):
        saved = store.admin_set_karma(obj.guild_id, obj.subject, obj.karma, request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        store.admin_delete(Karma.objects.filter(pk=obj.pk), request.user)

    def delete_queryset(self, request, queryset):
        store.admin_delete(queryset, request.user)


@admin.register(GuildSettings)
class GuildSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "guild_id",
        "announce",
        "allow_self_karma",
        "cooldown",
        "budget",
        "max_change",
        "ignored",
        "left_at",
    )
    search_fields = ("=guild_id",)

    def get_readonly_fields(self, request, obj=None):
        return ("guild_id",) if obj else ()  # settings belong to their server

    def save_model(self, request, obj, form, change):
        before = GuildSettings.objects.filter(pk=obj.pk).first() if change else None
        if change:
            # Only what the form edits: whether Popple is still in the server may have changed
            # since the form was loaded (karma/retention.py), and is not the admin's to write.
            obj.save(
                update_fields=[
                    field.name for field in obj._meta.concrete_fields if field.editable and not field.primary_key
                ]
            )
        else:
            super().save_model(request, obj, form, change)
        config.record_admin_change(before, obj, request.user)


class HistoryAdmin(admin.ModelAdmin):
    """History is read, never written by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SettingChange)
class SettingChangeAdmin(HistoryAdmin):
    """Who changed which setting of which server, and from what to what."""

    list_display = ("changed_at", "guild_id", "setting", "old", "new", "changed_by")
    list_filter = ("setting", "guild_id")
    date_hierarchy = "changed_at"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(HistoryAdmin):
    list_display = (
        "created_at",
        "guild_id",
        "subject",
        "delta",
        "total",
        "source",
        "author_name",
        "reason",
        "admin_user",
    )
    list_filter = ("source", "guild_id", "created_at")
    search_fields = ("subject", "author_name", "reason", "=message_id")
    date_hierarchy = "created_at"
    list_select_related = ("admin_user",)

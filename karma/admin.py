from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html_join

from karma import config
from karma.ledger import reads
from karma.models import MAX_NAME_LENGTH, GuildSettings, Karma, LedgerEntry, LedgerReason, LedgerRollup, SettingChange
from karma.moderation import actions, export
from karma.names import clean


class ServerFilter(admin.SimpleListFilter):
    """Servers by name (the ones Popple has seen; their id when it has no name for them yet).

    Finding the servers that have karma reads the karma table's index: once a minute (Django's
    cache), not on every page of every list.
    """

    title = "server"
    parameter_name = "guild_id"  # as before names: bookmarked filters keep working
    CACHE_KEY = "popple:admin-servers"
    CACHED_FOR = 60

    def lookups(self, request, model_admin):
        return cache.get_or_set(self.CACHE_KEY, self.servers, self.CACHED_FOR)

    @staticmethod
    def servers() -> list[tuple[str, str]]:
        names = dict(GuildSettings.objects.values_list("guild_id", "name"))
        with_karma = Karma.objects.order_by().values_list("guild_id", flat=True).distinct()
        servers = {**dict.fromkeys(with_karma, ""), **names}
        return sorted(((str(i), server_label(name, i)) for i, name in servers.items()), key=lambda s: s[1].casefold())

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(guild_id=int(value)) if value.isascii() and value.isdigit() else queryset.none()


def server_label(name: str, guild_id: int) -> str:
    return f"{name} ({guild_id})" if name else str(guild_id)


class ServerNamed(admin.ModelAdmin):
    """Shows each row's server by name, sorts by it, finds rows by it, and filters on it."""

    def get_queryset(self, request):
        name = GuildSettings.objects.filter(guild_id=OuterRef("guild_id")).values("name")[:1]
        return super().get_queryset(request).annotate(server_name=Subquery(name))

    @admin.display(description="server", ordering="server_name")
    def server(self, obj):
        return server_label(obj.server_name, obj.guild_id)


def subject_name(typed: str) -> str:
    """A name typed in the admin, as chat would count it (karma/names.py: one line, nothing hidden)."""
    name = clean(typed)
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"{typed!r} is not a name karma could count (1 to {MAX_NAME_LENGTH} characters).")
    return name


class MergeForm(forms.Form):
    target = forms.CharField(label="Merge into", max_length=MAX_NAME_LENGTH, strip=False)

    def clean_target(self):
        return subject_name(self.cleaned_data["target"])


class KarmaForm(forms.ModelForm):
    def clean_subject(self):
        return subject_name(self.cleaned_data["subject"])


@admin.register(Karma)
class KarmaAdmin(ServerNamed):
    form = KarmaForm
    list_display = ("subject", "karma", "server", "merged_into", "updated_at")
    list_filter = (ServerFilter,)
    search_fields = ("subject", "server_name")
    ordering = ("-karma", "subject")
    fields = ("guild_id", "subject", "karma")
    actions = ("merge", "remove_alias")
    REASONS = 20  # the subject's page shows the reasons of its last this many changes that gave one

    @admin.action(description="Merge selected subjects into another (an alias)", permissions=["change"])
    def merge(self, request, queryset):
        servers = set(queryset.values_list("guild_id", flat=True))
        if len(servers) != 1:
            self.message_user(request, "Merge subjects of one server at a time.", messages.ERROR)
            return None
        form = MergeForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Merge subjects",
                "subjects": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/karma/merge.html", context)
        [guild_id], target = servers, form.cleaned_data["target"]
        for subject in queryset.values_list("subject", flat=True):
            try:
                moved = actions.merge(guild_id, subject, target, request.user)
            except ValueError as problem:
                self.message_user(request, str(problem), messages.ERROR)
            else:
                self.message_user(request, f"Merged {subject} into {target} ({moved} karma moved).")
        return None

    @admin.action(description="Remove the alias (the subject counts for itself again)", permissions=["change"])
    def remove_alias(self, request, queryset):
        for guild_id, subject in queryset.values_list("guild_id", "subject"):
            try:
                actions.unmerge(guild_id, subject, request.user)
            except ValueError as problem:
                self.message_user(request, str(problem), messages.ERROR)
            else:
                self.message_user(request, f"{subject} counts for itself again.")

    def get_fields(self, request, obj=None):
        return (*self.fields, "reasons") if obj else self.fields

    def get_readonly_fields(self, request, obj=None):
        # A subject is renamed or moved by nobody: its ledger would no longer add up. An alias
        # holds no karma: its changes count for the subject it was merged into.
        if obj and obj.merged_into is not None:
            return ("guild_id", "subject", "karma", "reasons")
        return ("guild_id", "subject", "reasons") if obj else ()

    @admin.display(description="reasons")
    def reasons(self, obj):
        """Why the subject's karma changed, newest first (the ledger's, and those kept of rows rolled up)."""
        changes = reads.reasons(obj.guild_id, obj.subject, self.REASONS)
        if not changes:
            return "No reasons recorded yet."
        return format_html_join(
            "",
            "<p>{} {} by {}: {}</p>",
            ((created_at.strftime("%Y-%m-%d %H:%M"), f"{delta:+d}", author or "someone", reason)
             for _, delta, author, created_at, reason in changes),
        )  # fmt: skip

    def save_model(self, request, obj, form, change):
        saved = actions.admin_set_karma(obj.guild_id, obj.subject, obj.karma, request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        actions.admin_delete(Karma.objects.filter(pk=obj.pk), request.user)

    def delete_queryset(self, request, queryset):
        actions.admin_delete(queryset, request.user)


@admin.register(GuildSettings)
class GuildSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "guild_id",
        "public",
        "announce",
        "allow_self_karma",
        "cooldown",
        "budget",
        "max_change",
        "ignored",
        "reactions",
        "joined_at",
        "left_at",
    )
    list_display_links = ("name", "guild_id")
    list_filter = ("public",)
    search_fields = ("name", "=guild_id")
    readonly_fields = ("name", "locale", "joined_at", "left_at")
    actions = ("export_karma_csv", "export_ledger_csv", "export_rollup_csv", "export_json")

    def get_readonly_fields(self, request, obj=None):
        # Settings belong to their server; its name and dates come from Discord.
        return (*self.readonly_fields, "guild_id") if obj else self.readonly_fields

    def _export(self, request, queryset, name, content_type, pieces):
        """One server's export, streamed: a big ledger is never held in memory."""
        if queryset.count() != 1:
            self.message_user(request, "Export one server at a time.", messages.ERROR)
            return None
        guild_id = queryset.get().guild_id
        response = StreamingHttpResponse(pieces(guild_id), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="popple-{guild_id}-{name}"'
        return response

    # An export shows what the ledger and karma pages show: it needs their view permissions too.
    def has_view_karma_permission(self, request):
        return self.admin_site.get_model_admin(Karma).has_view_permission(request)

    def has_view_ledger_permission(self, request):
        return self.admin_site.get_model_admin(LedgerEntry).has_view_permission(request)

    def has_view_both_permission(self, request):
        return self.has_view_karma_permission(request) and self.has_view_ledger_permission(request)

    @admin.action(description="Export karma (CSV)", permissions=["view_karma"])
    def export_karma_csv(self, request, queryset):
        pieces = lambda guild: export.csv_pieces(guild, "karma")  # noqa: E731
        return self._export(request, queryset, "karma.csv", "text/csv; charset=utf-8", pieces)

    @admin.action(description="Export ledger (CSV)", permissions=["view_ledger"])
    def export_ledger_csv(self, request, queryset):
        pieces = lambda guild: export.csv_pieces(guild, "ledger")  # noqa: E731
        return self._export(request, queryset, "ledger.csv", "text/csv; charset=utf-8", pieces)

    @admin.action(description="Export the ledger's rolled-up days (CSV)", permissions=["view_ledger"])
    def export_rollup_csv(self, request, queryset):
        pieces = lambda guild: export.csv_pieces(guild, "rollup")  # noqa: E731
        return self._export(request, queryset, "ledger-rollup.csv", "text/csv; charset=utf-8", pieces)

    @admin.action(description="Export karma and ledger (JSON)", permissions=["view_both"])
    def export_json(self, request, queryset):
        return self._export(request, queryset, "karma.json", "application/json", export.json_pieces)

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
class SettingChangeAdmin(ServerNamed, HistoryAdmin):
    """Who changed which setting of which server, and from what to what."""

    list_display = ("changed_at", "server", "setting", "old", "new", "changed_by")
    list_filter = ("setting", ServerFilter)
    search_fields = ("server_name",)
    date_hierarchy = "changed_at"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ServerNamed, HistoryAdmin):
    """The ledger; moderators revert rows from here (filter by author and time, select, revert)."""

    list_display = (
        "created_at",
        "server",
        "subject",
        "delta",
        "total",
        "source",
        "author_name",
        "author_id",
        "reason",
        "admin_user",
        "reverted",
    )
    list_filter = ("source", ServerFilter, "created_at")
    search_fields = ("subject", "author_name", "reason", "=author_id", "=message_id", "server_name")
    date_hierarchy = "created_at"
    list_select_related = ("admin_user", "reverted_by")
    actions = ("revert", "forget_authors", "redact_reasons")

    @admin.display(boolean=True)
    def reverted(self, obj):
        return hasattr(obj, "reverted_by")

    def has_moderate_permission(self, request):
        # Reverting changes karma: the same permission as editing it.
        return request.user.has_perm("karma.change_karma")

    @admin.action(description="Revert the selected changes", permissions=["moderate"])
    def revert(self, request, queryset):
        undone = actions.revert(queryset.order_by("id").iterator(), request.user)
        self.message_user(request, f"Reverted {undone} changes (reverts, merges and rows reverted before are skipped).")

    @admin.action(description="Forget the authors of the selected rows (a privacy request)", permissions=["moderate"])
    def forget_authors(self, request, queryset):
        people = set(queryset.exclude(author_id=None).values_list("author_id", flat=True))
        changed = sum(actions.forget_user(person) for person in people)
        self.message_user(request, f"Forgot {len(people)} people: {changed} ledger rows no longer name them.")

    @admin.action(description="Redact the reasons of the selected rows (shown publicly)", permissions=["moderate"])
    def redact_reasons(self, request, queryset):
        redacted = actions.redact_reasons(queryset, request.user)
        self.message_user(request, f"Redacted the reasons of {redacted} ledger rows; the changes stay.")


@admin.register(LedgerRollup)
class LedgerRollupAdmin(ServerNamed, HistoryAdmin):
    """The ledger's days older than LEDGER_DETAIL_DAYS (karma/ledger/rollup.py), read-only: the
    changes they replaced are gone, so there is nothing to revert."""

    list_display = ("day", "server", "subject", "delta", "changes", "total", "last_at")
    list_filter = (ServerFilter, "day")
    search_fields = ("subject", "server_name")
    date_hierarchy = "day"


@admin.register(LedgerReason)
class LedgerReasonAdmin(ServerNamed, HistoryAdmin):
    """The reasons of ledger rows rolled up (karma/ledger/rollup.py), read-only but for taking one
    down: a reason is shown publicly, and all such a row holds."""

    list_display = ("created_at", "server", "subject", "delta", "author_name", "author_id", "reason")
    list_filter = (ServerFilter, "created_at")
    search_fields = ("subject", "author_name", "reason", "=author_id", "server_name")
    date_hierarchy = "created_at"
    actions = ("forget_authors", "redact")

    def has_moderate_permission(self, request):
        return request.user.has_perm("karma.change_karma")  # as the ledger's actions

    @admin.action(
        description="Forget the authors of the selected reasons (a privacy request)", permissions=["moderate"]
    )
    def forget_authors(self, request, queryset):
        people = set(queryset.exclude(author_id=None).values_list("author_id", flat=True))
        changed = sum(actions.forget_user(person) for person in people)
        self.message_user(
            request, f"Forgot {len(people)} people: {changed} ledger rows and reasons no longer name them."
        )

    @admin.action(description="Redact the selected reasons (shown publicly)", permissions=["moderate"])
    def redact(self, request, queryset):
        redacted = actions.redact_rolled_up_reasons(queryset, request.user)
        self.message_user(request, f"Redacted {redacted} reasons; the changes stay in their days.")

"""The moderators' dashboard: each person's servers, and per server its settings, board, ledger,
reverts, merges and exports. Every change goes through the domain's own functions (karma/config.py,
karma/moderation/), as chat and the admin do, recorded as the person who made it."""

from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import logout as end_session
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard import access, discord_api, session
from dashboard.forms import LedgerFilter
from dashboard.pages import page
from karma import config, seasons
from karma.ledger import reads
from karma.ledger.rollup import cutoff
from karma.models import GuildSettings, Karma, LedgerEntry, LedgerRollup
from karma.moderation import actions, export

BOARD_SIZE = 100
LEDGER_PAGE = 50
# What Popple needs in a server (README: "Try it"): View Channels, Send Messages, Add Reactions,
# and Read Message History (Discord asks for it to react to a message). Nothing more.
BOT_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 6) | (1 << 16)
INVITE_URL = "https://discord.com/oauth2/authorize"


def invite_url(client_id: str, guild_id: int) -> str:
    query: dict[str, str | int] = {
        "client_id": client_id,
        "scope": "bot applications.commands",
        "permissions": BOT_PERMISSIONS,
        "guild_id": guild_id,
        "disable_guild_select": "true",
    }
    return f"{INVITE_URL}?{urlencode(query)}"


@page
@require_GET
def home(request):
    if not request.user.is_authenticated or session.TOKEN not in request.session:
        return render(request, "dashboard/login.html")
    guilds = access.guilds(request)
    managed = {guild["id"]: guild for guild in guilds if guild["manages"]}
    present = set(GuildSettings.objects.filter(guild_id__in=managed, left_at=None).values_list("guild_id", flat=True))
    context = {
        "who": access.discord_user(request)[1],
        "servers": [guild for guild in managed.values() if guild["id"] in present],
        "invites": [
            {**guild, "invite": invite_url(settings.DISCORD_CLIENT_ID, guild["id"])}
            for guild in managed.values()
            if guild["id"] not in present
        ],
    }
    return render(request, "dashboard/home.html", context)


@page
@require_GET
def login_cancelled(request):
    return render(request, "dashboard/refused.html", {"reason": "You cancelled the login at Discord."}, status=403)


@page
@require_POST
def logout(request):
    token = request.session.get(session.TOKEN)
    end_session(request)  # the session, and the token in it, deleted
    if token:
        discord_api.revoke(token)
    return redirect("dashboard:home")


# Settings that name channels read them as Discord's mentions: typed on the web, they need the
# form Discord sends (the dashboard does not list a server's channels: that would need the bot's token).
CHANNEL_HINT = (
    "On the web, write a channel as <#ID> "
    "(in Discord, with Developer Mode on: right-click the channel, Copy Channel ID)."
)
NAMES_CHANNELS = {"channels", "log"}


def _settings_rows(server: GuildSettings) -> list[dict]:
    # As `@Popple config` lists them ("name: value"), so that both say the same ("auto (de)").
    shown = dict(line.split(": ", 1) for line in config.show(server.guild_id))
    return [
        {
            "name": name,
            "shown": shown[name],
            "help": setting.help,
            "hint": CHANNEL_HINT if name in NAMES_CHANNELS else "",
        }
        for name, setting in config.SETTINGS.items()
    ]


@page
@require_http_methods(["GET", "POST"])
def server_settings(request, guild_id: int):
    server = access.managed_server(request, guild_id)
    status = 200
    if request.method == "POST":
        name = request.POST.get("setting", "")
        if name not in config.SETTINGS:
            raise access.Refused(f"There is no setting {name!r}.", 400)
        try:
            shown = config.change(guild_id, name, request.POST.get("value", ""), access.changed_by(request))
        except ValueError as problem:
            messages.error(request, str(problem))
            status = 400
        else:
            messages.success(request, f"{name}: {shown}")
            return redirect("dashboard:settings", guild_id=guild_id)
        server.refresh_from_db()
    context = {"server": server, "settings": _settings_rows(server), "tab": "settings"}
    return render(request, "dashboard/settings.html", context, status=status)


@page
@require_GET
def board(request, guild_id: int):
    server = access.managed_server(request, guild_id)
    rows = Karma.objects.filter(guild_id=guild_id)
    context = {
        "server": server,
        "tab": "board",
        "top": rows.exclude(karma=0).order_by("-karma", "subject")[:BOARD_SIZE],
        "aliases": rows.exclude(merged_into=None).order_by("subject")[:BOARD_SIZE],
    }
    context["seasons"] = seasons.all_of(guild_id)
    return render(request, "dashboard/board.html", context)


@page
@require_GET
def season(request, guild_id: int, number: int):
    """A season's board (karma/seasons.py), private or not: the names whose karma moved the most."""
    server = access.managed_server(request, guild_id)
    spans = seasons.all_of(guild_id)
    if not 1 <= number <= len(spans):
        raise access.Refused(f"This server has no season {number}.", 404)
    span = spans[number - 1]
    context = {
        "server": server,
        "tab": "board",
        "span": span,
        "seasons": spans,
        "rows": reads.board_since(guild_id, BOARD_SIZE, span.since, until=span.until),
    }
    return render(request, "dashboard/season.html", context)


@page
@require_POST
def merge(request, guild_id: int):
    access.managed_server(request, guild_id)
    source, target = request.POST.get("source", "").strip(), request.POST.get("target", "").strip()
    if not source or not target:
        messages.error(request, "Give the name to merge and the name to merge it into.")
        return redirect("dashboard:board", guild_id=guild_id)
    try:
        moved = actions.merge(guild_id, source, target, request.user)
    except ValueError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"Merged {source} into {target} ({moved} karma moved).")
    return redirect("dashboard:board", guild_id=guild_id)


@page
@require_POST
def unmerge(request, guild_id: int):
    access.managed_server(request, guild_id)
    subject = request.POST.get("subject", "")
    try:
        actions.unmerge(guild_id, subject, request.user)
    except ValueError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"{subject} counts for itself again, from 0.")
    return redirect("dashboard:board", guild_id=guild_id)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _ledger_rows(guild_id: int, form: LedgerFilter):
    """The page's rows, newest first: LEDGER_PAGE and one more (to know there are older ones)."""
    rows = LedgerEntry.objects.filter(guild_id=guild_id)
    if not form.is_valid():
        return rows.none()
    data = form.cleaned_data
    if data["name"]:
        rows = rows.filter(subject=data["name"])
    if data["source"]:
        rows = rows.filter(source=data["source"])  # on the index ledger_source
    # Whole days in UTC, as a range on the column (an index can serve it; no time-zone function).
    if data["since"]:
        rows = rows.filter(created_at__gte=_midnight(data["since"]))
    if data["until"]:
        rows = rows.filter(created_at__lt=_midnight(data["until"] + timedelta(days=1)))
    # Newest first, a page at a time from the last row shown (`before`): no count of a ledger that
    # may hold millions of rows, and a page stays put while chat adds rows.
    if data["before"]:
        rows = rows.filter(id__lt=data["before"])
    if data["person"]:
        rows = _by_person(rows, data["person"])
    return rows.select_related("admin_user", "reverted_by").order_by("-id")[: LEDGER_PAGE + 1]


def _by_person(rows, person: str):
    """The rows of a person: by their Discord id, the name they changed karma under, or their
    username as a moderator (the admin's, the dashboard's). One query ORing the three read the whole
    server's ledger (no index serves an OR across columns); one query each is on an index
    (ledger_giver, ledger_author, the admin user's), and the newest page of the three is the page."""
    ways = [Q(author_name=person)]
    if person.isdigit() and len(person) < 20:
        ways.append(Q(author_id=int(person)))
    users = list(get_user_model().objects.filter(username=person).values_list("pk", flat=True))
    if users:
        ways.append(Q(admin_user__in=users))
    newest: set[int] = set()
    for way in ways:
        newest.update(rows.filter(way).order_by("-id").values_list("id", flat=True)[: LEDGER_PAGE + 1])
    return LedgerEntry.objects.filter(id__in=sorted(newest, reverse=True)[: LEDGER_PAGE + 1])


@page
@require_GET
def ledger(request, guild_id: int):
    server = access.managed_server(request, guild_id)
    form = LedgerFilter(request.GET)
    entries = list(_ledger_rows(guild_id, form))
    older = entries[LEDGER_PAGE - 1].id if len(entries) > LEDGER_PAGE else None
    kept = request.GET.copy()
    kept.pop("before", None)
    context = {
        "server": server,
        "tab": "ledger",
        "form": form,
        "entries": entries[:LEDGER_PAGE],
        "older": older,
        "paged": "before" in request.GET,
        "kept": kept.urlencode(),
        "rolled_up_before": _rolled_up_before(guild_id),
    }
    return render(request, "dashboard/ledger.html", context, status=200 if form.is_valid() else 400)


def _rolled_up_before(guild_id: int) -> date | None:
    """The first day the ledger holds in detail, when older ones of this server were rolled up into
    days (karma/ledger/rollup.py): the page says so, and where they are."""
    days = settings.LEDGER_DETAIL_DAYS
    if not days or not LedgerRollup.objects.filter(guild_id=guild_id).exists():
        return None
    return cutoff(days).date()


@page
@require_POST
def revert(request, guild_id: int):
    access.managed_server(request, guild_id)
    try:
        ids = {int(value) for value in request.POST.getlist("entry")}
    except ValueError:
        raise access.Refused("Those are not changes of the ledger.", 400) from None
    entries = list(LedgerEntry.objects.filter(guild_id=guild_id, id__in=ids))
    if len(entries) != len(ids):
        # An id of another server's, or none at all: nothing is reverted.
        raise access.Refused("Some of those changes are not this server's: nothing was reverted.", 400)
    if not entries:
        messages.error(request, "Select the changes to revert.")
    else:
        undone = actions.revert(entries, request.user)
        messages.success(request, f"Reverted {undone} change{'s' if undone != 1 else ''}.")
    return redirect(reverse("dashboard:ledger", kwargs={"guild_id": guild_id}) + "?" + request.POST.get("kept", ""))


EXPORTS = {
    "karma.csv": ("text/csv; charset=utf-8", lambda guild: export.csv_pieces(guild, "karma")),
    "ledger.csv": ("text/csv; charset=utf-8", lambda guild: export.csv_pieces(guild, "ledger")),
    "ledger-rollup.csv": ("text/csv; charset=utf-8", lambda guild: export.csv_pieces(guild, "rollup")),
    "karma.json": ("application/json", export.json_pieces),
}


@page
@require_GET
def export_file(request, guild_id: int, name: str):
    access.managed_server(request, guild_id)
    if name not in EXPORTS:
        raise access.Refused("There is no such export.", 404)
    content_type, pieces = EXPORTS[name]
    # Streamed, as the admin's: a big ledger is never held in memory.
    response = StreamingHttpResponse(pieces(guild_id), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="popple-{guild_id}-{name}"'
    return response

"""The public leaderboards: the servers that opted in (`@Popple config public on`), each server's
top and bottom, one subject with its rank and its karma over time, and the board as JSON.

A server whose board is not public (the default) answers 404, exactly as a server Popple never
saw: its existence is not given away. Everything shown is escaped by the templates.
"""

from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from karma import seasons
from karma.ledger import reads
from karma.ledger.rollup import cutoff
from karma.models import GuildSettings, Karma
from leaderboard.chart import Point, svg

PER_PAGE = 25
SERVERS_PER_PAGE = 50
# The list of public servers is read from Django's cache (Redis when configured) for this many
# seconds: anyone may ask for it as often as they like. A board made private leaves the list
# within this time; the board itself answers 404 at once.
SERVERS_CACHED_FOR = 60
REASONS = 5  # the last reasons a subject's page shows (as `@Popple why` does)
SEASON_BOARD = 100  # the names a season's page shows
CHART_CHANGES = 1000  # the chart's points, at most: a subject's last changes (days, past the detail)
# Nothing on these pages comes from elsewhere but the servers' icons, from Discord's CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' https://cdn.discordapp.com; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def public(view):
    """A public page: no cookie set, and a strict Content-Security-Policy. (The board reads the
    session cookie of a visitor who has one, to link moderators to the dashboard: board.html.)"""

    @wraps(view)
    def page(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    return page


def _server(guild_id: int) -> GuildSettings:
    return get_object_or_404(GuildSettings, guild_id=guild_id, public=True, left_at=None)


def _ranked(guild_id: int) -> QuerySet[Karma]:
    # Subjects with karma; zeros and aliases (merged subjects have none) are left out, as in chat.
    return Karma.objects.filter(guild_id=guild_id).exclude(karma=0)


def _page(rows, number: str | None, start_rank: int = 1, descending_rank: bool = False, count: int = 0):
    paginator = Paginator(rows.values_list("subject", "karma"), PER_PAGE)
    paginator.count = count  # counted once for both boards
    page = paginator.get_page(number)
    first = (page.number - 1) * PER_PAGE
    if descending_rank:
        ranked = [(count - first - index, subject, karma) for index, (subject, karma) in enumerate(page)]
    else:
        ranked = [(first + index + start_rank, subject, karma) for index, (subject, karma) in enumerate(page)]
    return page, ranked


def _board(request, guild_id: int):
    server = _server(guild_id)
    rows = _ranked(guild_id)
    count = rows.count()
    top, top_rows = _page(rows.order_by("-karma", "subject"), request.GET.get("top"), count=count)
    bottom, bottom_rows = _page(
        rows.order_by("karma", "-subject"), request.GET.get("bottom"), descending_rank=True, count=count
    )
    return server, count, top, top_rows, bottom, bottom_rows


@public
def servers(request):
    listed = GuildSettings.objects.filter(public=True, left_at=None).order_by("name", "guild_id")
    paginator = Paginator(listed.values("guild_id", "name", "icon"), SERVERS_PER_PAGE)
    paginator.count = cache.get_or_set("popple:public-servers", listed.count, SERVERS_CACHED_FOR) or 0
    page = paginator.get_page(request.GET.get("page"))  # a page that exists: one cache key per page
    rows = cache.get_or_set(f"popple:public-servers:{page.number}", lambda: list(page), SERVERS_CACHED_FOR)
    return render(request, "leaderboard/servers.html", {"servers": rows, "page": page})


@public
def board(request, guild_id: int):
    server, count, top, top_rows, bottom, bottom_rows = _board(request, guild_id)
    context = {
        "server": server,
        "count": count,
        "top": top,
        "top_rows": top_rows,
        "bottom": bottom,
        "bottom_rows": bottom_rows,
        "seasons": seasons.all_of(guild_id),
    }
    return render(request, "leaderboard/board.html", context)


@public
def season(request, guild_id: int, number: int):
    """A season's board: the names whose karma moved the most in it (karma/seasons.py)."""
    server = _server(guild_id)
    spans = seasons.all_of(guild_id)
    if not 1 <= number <= len(spans):
        raise Http404("No such season.")
    span = spans[number - 1]
    moved = reads.board_since(guild_id, SEASON_BOARD, span.since, until=span.until)
    context = {
        "server": server,
        "span": span,
        "seasons": spans,
        "rows": [(rank, subject, karma) for rank, (subject, karma) in enumerate(moved, start=1)],
    }
    return render(request, "leaderboard/season.html", context)


@public
def board_json(request, guild_id: int):
    server, count, top, top_rows, bottom, bottom_rows = _board(request, guild_id)

    def listed(ranked):
        return [{"rank": rank, "subject": subject, "karma": karma} for rank, subject, karma in ranked]

    return JsonResponse(
        {
            # Ids as strings, as Discord gives them: they are too big for JavaScript's numbers.
            "server": {"id": str(server.guild_id), "name": server.name},
            "subjects": count,
            "per_page": PER_PAGE,
            "top": {"page": top.number, "pages": top.paginator.num_pages, "rows": listed(top_rows)},
            "bottom": {"page": bottom.number, "pages": bottom.paginator.num_pages, "rows": listed(bottom_rows)},
        },
        json_dumps_params={"ensure_ascii": False},
    )


@public
def subject(request, guild_id: int, subject: str):
    server = _server(guild_id)
    row = Karma.objects.filter(guild_id=guild_id, subject=subject).first()
    if row is None:
        raise Http404("No such subject.")
    if row.merged_into is not None:
        return redirect(reverse("leaderboard:subject", args=[guild_id, row.merged_into]))
    ranked = _ranked(guild_id)
    rank = ranked.filter(Q(karma__gt=row.karma)).count() + 1 if row.karma else None
    points = [Point(at, total) for at, total in reads.history(guild_id, subject, CHART_CHANGES)]
    # The caption says so when the chart reaches back past the detail, where its points are days.
    days = settings.LEDGER_DETAIL_DAYS
    past_detail = bool(days and points and points[0].at < cutoff(days))
    aliases = Karma.objects.filter(guild_id=guild_id, merged_into=subject).values_list("subject", flat=True)
    context = {
        "server": server,
        "row": row,
        "rank": rank,
        "chart": svg(points),
        "changes": len(points),
        "detail_days": days if past_detail else 0,
        "aliases": list(aliases[:20]),
        # Why, without who: a public page names no one who gave karma.
        "reasons": [(delta, at, reason) for _, delta, _, at, reason in reads.reasons(guild_id, subject, REASONS)],
    }
    return render(request, "leaderboard/subject.html", context)

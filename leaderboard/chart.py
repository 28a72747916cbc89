"""A subject's karma over time as an SVG drawn here, on the server.

Hand-written rather than a charting library: one step line and its points need a few lines of
arithmetic, and no JavaScript, no build step and nothing fetched by the browser. The picture is
styled by the page's CSS classes (light and dark mode), scales to the screen's width through its
viewBox, and holds no text a person typed: only numbers and dates.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 32  # margins: room for the labels
MAX_MARKED = 200  # points drawn as dots; beyond, the line alone (dots would merge into it)


@dataclass(frozen=True)
class Point:
    at: datetime
    karma: int


def svg(points: list[Point]) -> SafeString:
    """The chart of `points` (oldest first), or an empty string when there is none."""
    if not points:
        return SafeString("")
    start, end = points[0].at.timestamp(), points[-1].at.timestamp()
    low, high = min(0, *(p.karma for p in points)), max(0, *(p.karma for p in points))
    span_t, span_k = (end - start) or 1.0, (high - low) or 1

    def x(point: Point) -> float:
        if end == start:
            return LEFT + (WIDTH - LEFT - RIGHT) / 2
        return LEFT + (point.at.timestamp() - start) / span_t * (WIDTH - LEFT - RIGHT)

    def y(karma: int) -> float:
        return TOP + (high - karma) / span_k * (HEIGHT - TOP - BOTTOM)

    # A step line: karma holds its value until the next change.
    steps, previous = [], None
    for point in points:
        if previous is not None:
            steps.append(f"{x(point):.1f},{y(previous.karma):.1f}")
        steps.append(f"{x(point):.1f},{y(point.karma):.1f}")
        previous = point
    dots = format_html_join(
        "",
        '<circle class="point" cx="{}" cy="{}" r="3" data-karma="{}"><title>{}: {}</title></circle>',
        (
            (f"{x(p):.1f}", f"{y(p.karma):.1f}", p.karma, p.at.strftime("%Y-%m-%d %H:%M UTC"), p.karma)
            for p in points[-MAX_MARKED:]
        ),
    )
    bottom = HEIGHT - BOTTOM
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="karma over time: from {first} to {last}" '
        'xmlns="http://www.w3.org/2000/svg" data-points="{count}">'
        '<line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"/>'
        '<line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>'
        '<line class="zero" x1="{l}" y1="{zero}" x2="{r}" y2="{zero}"/>'
        '<text class="label" x="{tl}" y="{ty_high}" text-anchor="end">{high}</text>'
        '<text class="label" x="{tl}" y="{ty_low}" text-anchor="end">{low}</text>'
        '<text class="label" x="{l}" y="{tb}">{start}</text>'
        '<text class="label" x="{r}" y="{tb}" text-anchor="end">{end}</text>'
        '<polyline class="line" points="{steps}"/>{dots}</svg>',
        w=WIDTH,
        h=HEIGHT,
        first=points[0].karma,
        last=points[-1].karma,
        count=len(points),
        l=LEFT,
        r=WIDTH - RIGHT,
        t=TOP,
        b=bottom,
        zero=f"{y(0):.1f}",
        tl=LEFT - 6,
        ty_high=f"{y(high) + 4:.1f}",
        ty_low=f"{y(low) + 4:.1f}",
        high=high,
        low=low,
        tb=HEIGHT - 10,
        start=points[0].at.strftime("%Y-%m-%d"),
        end=points[-1].at.strftime("%Y-%m-%d"),
        steps=" ".join(steps),
        dots=dots,
    )

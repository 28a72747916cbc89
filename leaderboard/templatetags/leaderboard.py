"""How a name appears on a web page: as in chat, it cannot reorder or break the text around it."""

from django import template
from django.utils.html import format_html

from karma.names import without_bidi_controls

register = template.Library()


@register.filter
def name(value: str) -> str:
    """The name escaped, on one line, isolated from the text's direction (<bdi>: a right-to-left
    name cannot flip "has N karma" around it)."""
    return format_html("<bdi>{}</bdi>", without_bidi_controls(" ".join(str(value).splitlines())))

"""Print a server's karma (and its ledger) as CSV or JSON."""

from django.core.management.base import BaseCommand, CommandError

from karma.models import GuildSettings, Karma
from karma.moderation import export


class Command(BaseCommand):
    help = (
        "Export a server's karma and ledger: CSV (one table: --table karma, ledger, or rollup: the ledger's "
        "days rolled up) or JSON (all three)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--guild", type=int, required=True, help="the server's id")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--table", choices=list(export.TABLES), default="karma", help="for CSV: which table")
        parser.add_argument("--output", "-o", help="a file to write (default: standard output)")

    def handle(self, *args, guild, format, table, output, **options):
        if not (GuildSettings.objects.filter(guild_id=guild).exists() or Karma.objects.filter(guild_id=guild).exists()):
            raise CommandError(f"Popple knows no server {guild}.")
        self.stdout.ending = ""  # the writers end their own lines
        try:
            out = open(output, "w", encoding="utf-8", newline="") if output else self.stdout  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        try:
            export.write(out, export.csv_pieces(guild, table) if format == "csv" else export.json_pieces(guild))
        finally:
            if output:
                out.close()

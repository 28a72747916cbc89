"""Import a Go Popple database: its karma and announce settings, per server (karma/importers/gopopple.py)."""

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from karma.importers import gopopple


class Command(BaseCommand):
    help = (
        "Import the Go Popple's karma and announce settings: PATH_OR_URL is its SQLite file or its MySQL "
        "database (mysql://user@host:port/name; the password from MYSQL_PWD, or typed when asked). "
        "Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("location", metavar="PATH_OR_URL")
        parser.add_argument(
            "--merge", action="store_true", help="add Popple's karma to servers that already have karma here"
        )
        parser.add_argument(
            "--max-rows",
            type=int,
            default=gopopple.MAX_ROWS,
            help=f"refuse a table with more rows than this (default {gopopple.MAX_ROWS})",
        )

    def handle(self, *args, location, merge, max_rows, **options):
        if max_rows < 1:
            raise CommandError("--max-rows must be at least 1.")
        try:
            source = gopopple.read(location, password=self.mysql_password, max_rows=max_rows)
        except ValueError as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(f"Found {len(source.entities)} subjects and {len(source.configs)} settings.")

        self.stderr.ending = ""  # the bar redraws its line itself

        def progress(servers):
            return tqdm(servers, desc="servers", unit="server", file=self.stderr, disable=options["verbosity"] < 1)

        summary = gopopple.import_popple(source, merge=merge, progress=progress)
        for line in summary.lines():
            self.stdout.write(line)

    def mysql_password(self):
        """From MYSQL_PWD (as MySQL's own client reads it), or typed: never on the command line."""
        if "MYSQL_PWD" in os.environ:
            return os.environ["MYSQL_PWD"]
        return getpass.getpass("MySQL password: ") if sys.stdin.isatty() else ""

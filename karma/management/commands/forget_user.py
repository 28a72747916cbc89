"""Remove a person's name and id from the ledger (a privacy request); karma totals stay."""

from django.core.management.base import BaseCommand, CommandError

from karma.moderation import actions


class Command(BaseCommand):
    help = "Remove a Discord user's name and id from every server's ledger and settings history."

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="the person's Discord user id")

    def handle(self, *args, user_id, **options):
        if not (user_id.isascii() and user_id.isdigit() and 0 < int(user_id) < 2**63):
            raise CommandError(f"{user_id!r} is not a Discord user id (a number).")
        changed = actions.forget_user(int(user_id))
        self.stdout.write(f"Forgot user {user_id}: {changed} ledger rows no longer name them.")

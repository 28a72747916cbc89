"""Register Popple's slash commands with Discord (botgateway/slash_commands.py: commands).

One bulk overwrite: the registered set becomes exactly Popple's, so running it again (after an
upgrade, or twice) leaves one registration of each command and removes commands Popple dropped.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from botgateway.discordapi import require_token
from botgateway.rest import DiscordRest, Unreachable
from botgateway.slash_commands import CHAT_INPUT, MESSAGE, USER, commands


class Command(BaseCommand):
    help = "Register Popple's slash commands with Discord (globally, or in one server with --guild)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--guild",
            type=int,
            help="register in this server only (shown at once there; global commands can take an hour to appear)",
        )

    def handle(self, *args, guild=None, **options):
        rest = DiscordRest(settings.DISCORD_API_BASE_URL, require_token())
        try:
            application = rest.application()
            answered(application, "reading the application")
            registered = rest.put_commands(int(application.body["id"]), commands(), guild)
            answered(registered, "registering the commands")
        except Unreachable as exc:
            raise CommandError(f"Discord is unreachable ({exc}); try again later") from None
        finally:
            rest.close()
        slash = [command for command in registered.body if command.get("type", CHAT_INPUT) == CHAT_INPUT]
        menus = [command for command in registered.body if command.get("type") in (USER, MESSAGE)]
        names = ", ".join(f"/{command['name']}" for command in slash)
        entries = ", ".join(f"{c['name']} (on a {'person' if c['type'] == USER else 'message'})" for c in menus)
        where = f"in server {guild}" if guild else "globally"
        said = f"registered {len(slash)} slash commands {where}: {names}"
        self.stdout.write(said + (f"; context menus: {entries}" if menus else ""))


def answered(answer, doing):
    """Stop with one line unless Discord did what was asked. (A module function: a method named
    `check` would hide BaseCommand.check, which Django runs before `handle` from the command line.)"""
    if answer.status == 401:
        raise CommandError("Discord refused DISCORD_TOKEN (401)")
    if not answer.ok:
        reason = answer.body.get("message") if isinstance(answer.body, dict) else None
        raise CommandError(f"{doing}: Discord answered {answer.status} {reason or ''}".rstrip())

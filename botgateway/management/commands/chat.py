"""A local console: each line you type is a chat message from you, in one local server.

No Discord and no broker: each line goes through the same router the karma task runs, on this
process's database, and the answer is printed as Discord would show it.
"""

import itertools
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from karma.message import IncomingMessage
from karma.router import respond

LOCAL_GUILD_ID = 1
LOCAL_CHANNEL_ID = 2
BOT_ID = 3
BOT_NAME = "Popple"
USER_ID = 4
DISCORD_EPOCH_MS = 1420070400000


def message_ids():
    """Unique and growing across runs, like Discord's snowflakes: the ledger keys on them."""
    first = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
    return itertools.count(first)


class Command(BaseCommand):
    help = "Talk to Popple in a terminal: type `popple++` or `@Popple top`; Ctrl-D quits."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="you", help="your name in the local server")

    def handle(self, *args, user, **options):
        call_command("migrate", verbosity=0)
        interactive = sys.stdin.isatty()
        if interactive:
            self.stdout.write(f"Chatting as {user} with {BOT_NAME} (mention it as @{BOT_NAME}). Ctrl-D quits.")
        ids = message_ids()
        while True:
            try:
                line = input("> " if interactive else "")
            except EOFError:
                return
            message = IncomingMessage(
                guild_id=LOCAL_GUILD_ID,
                channel_id=LOCAL_CHANNEL_ID,
                message_id=next(ids),
                author_id=USER_ID,
                author_name=user,
                content=line,
                bot_id=BOT_ID,
                bot_name=BOT_NAME,
                mentions={},
                can_manage=True,
            )
            reply = respond(message)
            if reply.reaction:
                self.stdout.write(f"[reacts {reply.reaction}]")
            for text in reply.messages():
                self.stdout.write(text)

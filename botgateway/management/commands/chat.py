"""A local console: each line you type is a chat message from you, in one local server.

No Discord and no broker: each line goes through the same router the karma task runs, on this
process's database, and the answer is printed as Discord would show it. (Here, beside the gateway,
because it stands in for Discord: it makes ids as Discord does and splits answers as it would.)
"""

import itertools
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from botgateway.snowflakes import first_id_at, sent_at
from botgateway.splitting import messages
from karma.message import IncomingMessage
from karma.router import respond

LOCAL_GUILD_ID = 1
LOCAL_CHANNEL_ID = 2
BOT_ID = 3
BOT_NAME = "Popple"
USER_ID = 4


def message_ids():
    """Unique and growing across runs, like Discord's snowflakes: the ledger keys on them."""
    return itertools.count(first_id_at(time.time()))


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
            message_id = next(ids)
            message = IncomingMessage(
                guild_id=LOCAL_GUILD_ID,
                channel_id=LOCAL_CHANNEL_ID,
                message_id=message_id,
                author_id=USER_ID,
                author_name=user,
                content=line,
                bot_id=BOT_ID,
                bot_name=BOT_NAME,
                mentions={},
                can_manage=True,
                sent_at=sent_at(message_id),
            )
            reply = respond(message)
            if reply.reaction:
                self.stdout.write(f"[reacts {reply.reaction}]")
            for text in messages(reply):
                self.stdout.write(text)

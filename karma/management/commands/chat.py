"""A local console: each line you type is a chat message from you, in one local server."""

import itertools
import sys

from discord.utils import time_snowflake, utcnow
from django.core.management import call_command
from django.core.management.base import BaseCommand

from karma.message import IncomingMessage
from karma.sender import ConsoleSender, use_sender
from karma.tasks import handle_message
from poppleproject.celery import app as celery_app

LOCAL_GUILD_ID = 1
LOCAL_CHANNEL_ID = 2
BOT_ID = 3
BOT_NAME = "Popple"
USER_ID = 4


class Command(BaseCommand):
    help = "Talk to Popple in a terminal: type `popple++` or `@Popple top`; Ctrl-D quits."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="you", help="your name in the local server")

    def handle(self, *args, user, **options):
        call_command("migrate", verbosity=0)
        # Whatever is configured, the console stays local: tasks inline, replies printed.
        celery_app.conf.task_always_eager = True
        use_sender(ConsoleSender(write=self.stdout.write))
        interactive = sys.stdin.isatty()
        if interactive:
            self.stdout.write(f"Chatting as {user} with {BOT_NAME} (mention it as @{BOT_NAME}). Ctrl-D quits.")
        counter = itertools.count()
        while True:
            try:
                line = input("> " if interactive else "")
            except EOFError:
                return
            # Ids only have to be unique and growing, like Discord's: the ledger keys on them.
            message = IncomingMessage(
                guild_id=LOCAL_GUILD_ID,
                channel_id=LOCAL_CHANNEL_ID,
                message_id=time_snowflake(utcnow()) + next(counter) % 4096,
                author_id=USER_ID,
                author_name=user,
                content=line,
                bot_id=BOT_ID,
                bot_name=BOT_NAME,
                mentions={},
                can_manage=True,
            )
            handle_message.delay(message.to_payload())

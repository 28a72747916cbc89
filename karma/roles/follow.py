"""After a message's karma is committed: who should hold which roles now, handed to the role task.

Called by the router once the ledger's transaction has committed (karma/router.py), with what the
message did and the server's rewards, which the ledger read with its rules in the same query: a
server without role rewards costs nothing here, not a query, not a publish. A message delivered
again (the ledger replays what it did) calls for the same roles again, at the same version: the
role side applies it once (botgateway/roles.py).

A karma name becomes a Discord member through `Member` rows (karma/models.py): the authors of
the server's messages, and the people they mention, recorded only while the server has rewards on.
So `alice++` gives alice a role once Popple has seen alice speak or be mentioned there since; the
karma counted is that of her username exactly, as karma keeps it (`Alice` is another name).
"""

from django.db import connections, router

from karma.ledger.writes import Outcome
from karma.message import IncomingMessage, ReactionEvent, RoleChange
from karma.models import Member
from karma.roles.rewards import earned, managed


def follow(message: IncomingMessage, outcome: Outcome) -> tuple[RoleChange, ...]:
    """Record who the message names; the roles its changes call for, which the karma task hands
    to the role task with the reply (karma/tasks.py, send_reply)."""
    if not outcome.rewards:
        return ()
    # The author and the people mentioned (bots never get roles).
    people = {message.author_id: message.author_name}
    bots = {str(bot) for bot in message.bots}
    people.update({int(user_id): name for user_id, name in message.mentions.items() if user_id not in bots})
    people.pop(message.bot_id, None)
    remember(message.guild_id, people)
    return tuple(decide(message.guild_id, message.channel_id, message.message_id, outcome))


def follow_reaction(event: ReactionEvent, outcome: Outcome) -> tuple[RoleChange, ...]:
    """As `follow`, for a reaction: the person who reacted, and the author of the message (an add
    names them; the gateway drops reactions by bots and to bots' messages)."""
    if not outcome.rewards:
        return ()
    people = {event.user_id: event.user_name, event.author_id: event.author_name}
    people.pop(0, None)
    remember(event.guild_id, people)
    return tuple(decide(event.guild_id, event.channel_id, event.message_id, outcome))


def remember(guild_id: int, people: dict[int, str]) -> None:
    """Who goes by which username in the server."""
    rows = [Member(guild_id=guild_id, user_id=user_id, username=name) for user_id, name in people.items() if name]
    if not rows:
        return
    using = router.db_for_write(Member)
    # One upsert: a person renamed since is found by their new name. (MySQL's upsert needs no target.)
    target = ["guild_id", "user_id"] if connections[using].features.supports_update_conflicts_with_target else None
    Member.objects.using(using).bulk_create(
        rows, update_conflicts=True, unique_fields=target, update_fields=["username", "seen_at"]
    )


def decide(guild_id: int, channel_id: int, message_id: int, outcome: Outcome) -> list[RoleChange]:
    """A RoleChange for each changed name Popple knows a member by: the whole set they should hold."""
    totals = {subject: (total, version) for subject, total, version in outcome.applied}
    if not totals:
        return []
    people: dict[str, int] = {}
    # The latest one seen under a name, should two people have gone by it.
    for username, user_id in (
        Member.objects.filter(guild_id=guild_id, username__in=list(totals))
        .order_by("seen_at")
        .values_list("username", "user_id")
    ):
        people[username] = user_id
    roles = managed(outcome.rewards)
    return [
        RoleChange(
            guild_id=guild_id,
            channel_id=channel_id,
            message_id=message_id,
            user_id=people[subject],
            subject=subject,
            version=version,
            wanted=earned(total, outcome.rewards, outcome.role_stack),
            managed=roles,
        )
        for subject, (total, version) in totals.items()
        if subject in people
    ]

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from karma import channels, language, points
from karma.emoji import emoji_key
from karma.message import DELETED_REVISION  # noqa: F401 (the ledger's revision of a deletion)
from karma.names import clean
from karma.roles import rewards as role_rewards
from karma.thanks import DEFAULT_THANK_WORDS, THANK_WORDS

MAX_NAME_LENGTH = 128
MAX_REASON_LENGTH = 200


class ExactCharField(models.CharField):
    """A CharField compared byte for byte on every database.

    `Popple`, `popple`, `café` and `cafe` are four subjects, and `a` is not `a ` either: MySQL's
    default collations fold case and accents, and its *_bin collations still pad spaces, so the
    column gets a binary no-pad collation. SQLite compares exactly already.
    """

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "mysql":
            params["collation"] = "utf8mb4_nopad_bin" if connection.mysql_is_mariadb else "utf8mb4_0900_bin"
        return params


class Karma(models.Model):
    guild_id = models.BigIntegerField("server", db_index=False)
    subject = ExactCharField(max_length=MAX_NAME_LENGTH)
    karma = models.BigIntegerField(default=0)
    # How many changes the subject has had: of two replies about it, the one with the higher
    # version is the newer, whatever order they are delivered in.
    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    # A moderator merged this subject into another (karma/moderation/actions.py): its karma went there, and
    # its later changes count there too. The row stays, with no karma, as the alias; deleting it
    # removes the alias.
    merged_into = ExactCharField(max_length=MAX_NAME_LENGTH, null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "karma"
        constraints = [models.UniqueConstraint(fields=["guild_id", "subject"], name="karma_unique_subject")]
        # The boards, ties by name: read forwards, the bottom (karma, then names Z to A); backwards,
        # the top (-karma, then names A to Z), as chat orders it. Each page reads the index alone.
        indexes = [
            models.Index(fields=["guild_id", "karma", "-subject"], name="karma_board_order"),
            # A subject's aliases, for its page (nearly every row has none: a small index).
            models.Index(fields=["guild_id", "merged_into"], name="karma_aliases"),
        ]

    def __str__(self):
        if self.merged_into is not None:
            return f"{self.subject} (merged into {self.merged_into})"
        return f"{self.subject} has {self.karma} karma"


def validate_names(value):
    """A list of at most 100 names, each a name karma could count (karma/names.py)."""
    if not isinstance(value, list) or len(value) > 100:
        raise ValidationError('Give a list of at most 100 names, such as ["c", "i", "g"].')
    for name in value:
        if not isinstance(name, str) or not clean(name) or len(clean(name)) > MAX_NAME_LENGTH:
            raise ValidationError(f"{name!r} is not a name karma could count (1 to {MAX_NAME_LENGTH} characters).")


MAX_REACTION_EMOJI = 20


def validate_emoji(value):
    """A list of at most MAX_REACTION_EMOJI emoji: Unicode ones, or a server's own as `<:name:id>`."""
    if not isinstance(value, list) or len(value) > MAX_REACTION_EMOJI:
        raise ValidationError(f'Give a list of at most {MAX_REACTION_EMOJI} emoji, such as ["👍", "⬆️"].')
    for emoji in value:
        if not isinstance(emoji, str) or emoji_key(emoji) is None:
            raise ValidationError(f"{emoji!r} is not an emoji (a server's own is written <:name:id>).")


def validate_channels(value):
    if not channels.valid(value):
        raise ValidationError(
            f'Give {{}}, {{"only": [ids]}} or {{"except": [ids]}}: 1 to {channels.MAX_CHANNELS} channel or '
            "category ids, as text."
        )


def validate_points(value):
    if points.parse(value) != value:
        raise ValidationError(
            f'Give a name (or "one/many") of letters, digits, spaces, hyphens or emoji, {points.MAX_POINTS_NAME} '
            "characters at most each."
        )


def default_thank_words():
    return list(DEFAULT_THANK_WORDS)


def validate_thank_words(value):
    if not isinstance(value, list) or not value or not all(word in THANK_WORDS for word in value):
        raise ValidationError(f"Give a list of thank-words among: {', '.join(THANK_WORDS)}.")


def validate_role_rewards(value):
    if not role_rewards.valid(value):
        raise ValidationError(
            f'Give [[threshold, "role id"], ...]: at most {role_rewards.MAX_REWARDS}, thresholds from 1 to '
            f"{role_rewards.MAX_THRESHOLD}, each threshold and role once, ids as text (empty: off)."
        )


class GuildSettings(models.Model):
    """A server: its name as Discord gives it, when Popple joined and left it, what Popple says,
    and the rules that keep its karma fair (karma/rules.py)."""

    guild_id = models.BigIntegerField("server", primary_key=True)
    # From the gateways (karma/retention.py): empty until a gateway has seen the server.
    name = models.CharField(max_length=100, blank=True, editable=False)
    icon = models.CharField("icon hash", max_length=64, blank=True, editable=False)
    # Discord's preferred locale of the server (as its name, from the gateways): the language of
    # its answers when `language` is auto (karma/language.py).
    locale = models.CharField("Discord's locale", max_length=16, blank=True, editable=False)
    public = models.BooleanField(
        default=False, help_text="Anyone can see the server's leaderboard on the web (off: it answers 404)."
    )
    announce = models.BooleanField(default=True, help_text="Reply with the new karma after each change.")
    allow_self_karma = models.BooleanField(
        "self-karma",
        default=False,
        help_text="Let people give themselves karma (++ to their own name). Taking it (--) is always allowed.",
    )
    cooldown = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(7 * 24 * 3600)],
        help_text="Seconds before the same person can change the same name again (0: no cooldown).",
    )
    budget = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(10_000)],
        help_text="Karma changes one person can make per hour, all names together (0: no limit).",
    )
    max_change = models.PositiveIntegerField(
        "max change",
        default=0,
        validators=[MaxValueValidator(1_000)],
        help_text="The most karma one message can give to or take from one name (0: no limit).",
    )
    ignored = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_names],
        help_text='Names that never count, compared without case: a list such as ["c", "i", "g"].',
    )
    # Whether Popple is still in the server, as the gateways saw it (karma/retention.py): its data
    # is deleted DEPARTED_SERVER_RETENTION_DAYS after it left, unless it comes back first.
    left_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        db_index=True,
        help_text="When Popple left the server (empty: it is in it).",
    )
    # When the gateway saw the join or leave recorded last: an event seen earlier than that arrived
    # late (workers run in parallel, the broker redelivers) and is ignored.
    membership_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    joined_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="When Popple joined the server.")
    # When the gateway saw the name recorded: an older rename arriving late is ignored.
    named_at = models.DateTimeField(null=True, blank=True, editable=False)
    reactions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_emoji],
        help_text="Emoji that give a message's author +1 when someone reacts with them: a list such as "
        '["👍", "<:upvote:123456789012345678>"] (empty: reactions give nothing).',
    )
    channels = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_channels],
        help_text='Where karma counts: {} everywhere, {"only": ["channel or category id", ...]}, or '
        '{"except": [...]}. Commands answer everywhere.',
    )
    points = models.CharField(
        "points' name",
        max_length=41,
        default="karma",
        validators=[validate_points],
        help_text='What the server calls karma in answers: "cookies", or "cookie/cookies" for one and for many.',
    )
    language = models.CharField(
        max_length=8,
        blank=True,
        default="",
        choices=[
            ("", "auto: Discord's preferred locale of the server"),
            *((code, code) for code in language.SUPPORTED),
        ],
        help_text="The language of Popple's answers (auto: the server's locale in Discord, if Popple speaks it; "
        "else English). Commands stay English words.",
    )
    thanks = models.BooleanField(
        default=False,
        help_text="A message that thanks someone (thanks @alice, or a reply starting with thanks) gives them +1.",
    )
    thank_words = models.JSONField(
        default=default_thank_words,
        blank=True,
        validators=[validate_thank_words],
        help_text=f"The words thanks listen for, among: {', '.join(THANK_WORDS)}.",
    )
    log_channel = models.BigIntegerField(
        "log channel",
        null=True,
        blank=True,
        help_text="The channel id where Popple posts the moderators' log: settings changes, seasons, reverts, "
        "merges, and people the cooldown or budget refused often (empty: no log).",
    )
    log_refusals = models.PositiveIntegerField(
        "log refusals",
        default=10,
        validators=[MaxValueValidator(1_000)],
        help_text="Refusals by the cooldown or the budget in an hour after which the log names the person (0: never).",
    )
    # Role rewards (karma/roles/): off while empty. Read with the rules, in the same query
    # (karma/ledger/writes.py, server_rules), so servers without them pay nothing.
    role_rewards = models.JSONField(
        "role rewards",
        default=list,
        blank=True,
        validators=[validate_role_rewards],
        help_text='Roles given at karma thresholds: [[10, "role id"], [50, "role id"]] (empty: off). Popple needs '
        "Manage Roles, and its highest role above these.",
    )
    role_stack = models.BooleanField(
        "stack roles",
        default=False,
        help_text="Keep every role reached (on), or only the highest one reached (off).",
    )

    class Meta:
        verbose_name = "server"
        verbose_name_plural = "servers"

    def __str__(self):
        return f"{self.name} ({self.guild_id})" if self.name else f"server {self.guild_id}"

    def save(self, *args, **kwargs):
        self.ignored = [clean(name) for name in self.ignored]  # as karma compares them
        if isinstance(self.role_rewards, list) and all(isinstance(pair, list) for pair in self.role_rewards):
            self.role_rewards = sorted(self.role_rewards)  # by threshold, as karma/roles/rewards.py reads them
        super().save(*args, **kwargs)


class LedgerEntry(models.Model):
    """One applied change of one subject's karma, from a chat message or the admin."""

    class Source(models.TextChoices):
        CHAT = "chat"
        ADMIN = "admin"
        MERGE = "merge"  # names that became one: by a migration (karma/names.py) or a moderator
        REVERT = "revert"  # a moderator undid another row (`reverts`)
        IMPORT = "import"  # brought from the Go Popple (manage.py import_popple)
        DELETED = "deleted"  # the message was deleted: its changes taken back (karma/ledger/writes.py)
        REACTION = "react"  # a reaction added or removed (karma/ledger/reactions.py)

    guild_id = models.BigIntegerField("server")
    channel_id = models.BigIntegerField(null=True, blank=True)
    # Unique with the revision and the subject: applying the same version of a Discord message
    # twice fails on this key.
    message_id = models.BigIntegerField(null=True, blank=True)
    # Which version of the message made the change: 0 as first sent, then its edit time in
    # microseconds (karma/message.py), DELETED_REVISION for its deletion.
    revision = models.BigIntegerField(default=0)
    author_id = models.BigIntegerField(null=True, blank=True)
    author_name = models.CharField(max_length=100, blank=True)
    admin_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    subject = ExactCharField(max_length=MAX_NAME_LENGTH)
    delta = models.BigIntegerField()
    # The subject's karma and version right after this change: a replayed message answers what it
    # first said.
    total = models.BigIntegerField()
    version = models.BigIntegerField(default=0)
    source = models.CharField(max_length=7, choices=Source.choices, default=Source.CHAT)
    reason = models.CharField(max_length=MAX_REASON_LENGTH, blank=True, help_text="Why, as the message said (for ...).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The row a revert undid; unique, so that a row is reverted once however often it is asked.
    # No foreign key constraint: a departed server's ledger is deleted in batches of ids.
    reverts = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="reverted_by",
    )

    class Meta:
        verbose_name_plural = "ledger"
        constraints = [
            models.UniqueConstraint(fields=["message_id", "revision", "subject"], name="ledger_once_per_version"),
        ]
        indexes = [
            models.Index(fields=["guild_id", "subject"], name="ledger_subject"),
            # A person's recent changes, for the cooldown and budget rules: every column their
            # queries filter on, so that counting a busy person's hour reads the index alone.
            models.Index(fields=["guild_id", "author_id", "source", "created_at", "message_id"], name="ledger_giver"),
            # The dashboard's ledger by source (dashboard/views.py): a server's rows of one source,
            # newest first (InnoDB and SQLite end each entry with the id), however few there are.
            # Its cost on every karma change is in bench/README.md (issue 25).
            models.Index(fields=["guild_id", "source"], name="ledger_source"),
            # The dashboard's ledger by person, by the name they changed karma under: no other
            # index has the name, and a name few rows have read the whole server's ledger without it.
            models.Index(fields=["guild_id", "author_name"], name="ledger_author"),
        ]

    def __str__(self):
        return f"{self.subject} {self.delta:+d}"


class LedgerRollup(models.Model):
    """A day of one subject's ledger rows, once older than LEDGER_DETAIL_DAYS (karma/ledger/rollup.py):
    what the rows it replaced added up to, and the total after the last of them. Merges, imports
    and the rows of a day on which a season started are kept as they are; reasons are kept apart
    (LedgerReason)."""

    guild_id = models.BigIntegerField("server")
    subject = ExactCharField(max_length=MAX_NAME_LENGTH)
    day = models.DateField(help_text="The day (UTC) whose changes this row adds up.")
    delta = models.BigIntegerField(help_text="The net change of the rows rolled up.")
    changes = models.PositiveIntegerField(help_text="How many ledger rows were rolled up.")
    total = models.BigIntegerField(help_text="The subject's karma after the day's last change.")
    # The id and time of the day's last ledger row, rolled up or kept: the chart draws the day as
    # that change, and a later batch of the same day replaces `total` only with a later row's.
    last_id = models.BigIntegerField()
    last_at = models.DateTimeField()

    class Meta:
        verbose_name = "rolled-up ledger day"
        verbose_name_plural = "rolled-up ledger"
        constraints = [models.UniqueConstraint(fields=["guild_id", "subject", "day"], name="rollup_once_per_day")]

    def __str__(self):
        return f"{self.subject} {self.delta:+d} on {self.day} ({self.changes} changes)"


class LedgerReason(models.Model):
    """The reason a rolled-up ledger row gave (karma/ledger/rollup.py): its change is counted in its
    day's LedgerRollup, and this keeps what `why` and the public page show. Apart from the ledger,
    whose indexes would make each such row cost as much as six day rows. Forgotten once older than
    LEDGER_RETENTION_DAYS, as the ledger's reasons are (karma/retention.py)."""

    # The ledger row's id: the ledger's order, kept.
    id = models.BigIntegerField(primary_key=True)
    guild_id = models.BigIntegerField("server")
    subject = ExactCharField(max_length=MAX_NAME_LENGTH)
    delta = models.BigIntegerField()
    author_id = models.BigIntegerField(null=True, blank=True)  # a privacy request finds them by it
    author_name = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=MAX_REASON_LENGTH)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "reason of a rolled-up change"
        verbose_name_plural = "reasons of rolled-up changes"
        indexes = [models.Index(fields=["guild_id", "subject", "created_at"], name="reason_subject")]

    def __str__(self):
        return f"{self.subject} {self.delta:+d}: {self.reason}"


class MessageVersion(models.Model):
    """Which version of a chat message the ledger follows, while it may still be edited or deleted.

    Versions arrive in any order (workers run in parallel, the broker redelivers): this row is
    locked while one is applied, and a version older than the one recorded changes nothing.
    An edit or deletion that arrives before the message itself is kept here (`pending`) until
    the message comes; `counted` says whether it has. Rows go once their message is too old to
    be edited (karma/retention.py).
    """

    message_id = models.BigIntegerField(primary_key=True)
    guild_id = models.BigIntegerField("server")
    revision = models.BigIntegerField(default=0)
    counted = models.BooleanField(default=False)
    # [[subject, delta, reason]] the newest version asks for, while the message is not counted.
    pending = models.JSONField(null=True, blank=True)

    def __str__(self):
        return f"message {self.message_id} at revision {self.revision}"


class Reaction(models.Model):
    """What the newest event Popple applied says of one person's reaction with one emoji to a message.

    Discord's reaction events carry no time: the gateway stamps each with the order it received them
    in (karma/message.py, ReactionEvent), and an event older than the one recorded here changes
    nothing. So an add that arrives after its removal (two workers, a redelivery) gives nothing: the
    removal left this row behind, `given` 0. `user_id` 0 records that a moderator removed all the
    message's reactions (of `emoji`, or of every emoji when it is empty): adds older than it count
    nothing either.
    """

    message_id = models.BigIntegerField()
    user_id = models.BigIntegerField()  # who reacted; 0: a removal of all of them
    emoji = models.CharField(max_length=64, blank=True)  # as karma/reactions.py keys it
    guild_id = models.BigIntegerField("server")
    channel_id = models.BigIntegerField()
    stamp = models.BigIntegerField(default=0)  # the newest event's order (its gateway's clock, ns)
    subject = ExactCharField(max_length=MAX_NAME_LENGTH, blank=True)  # whom it gave karma: the author
    given = models.SmallIntegerField(default=0)  # 1 while the reaction counts
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message_id", "user_id", "emoji"], name="reaction_once")]

    def __str__(self):
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class Season(models.Model):
    """A season of a server's karma, from when a moderator started it until the next one starts
    (karma/seasons.py). Season 1 is everything before the first one started here; nothing is
    archived or deleted: a season's board is its changes in the ledger."""

    guild_id = models.BigIntegerField("server")
    number = models.PositiveIntegerField()  # 2 for the first one started, and so on
    name = models.CharField(max_length=50, blank=True)
    started_at = models.DateTimeField()
    started_by = models.CharField(max_length=200, help_text="The Discord member who started it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["guild_id", "number"], name="season_once")]

    def __str__(self):
        return f"season {self.number} of server {self.guild_id}"


class Giver(models.Model):
    """Someone who changes karma in a server under the cooldown or budget rules.

    Their row is locked while one of their messages is applied, so that two workers applying the
    same person's messages at once count them one after the other (karma/ledger/writes.py).
    """

    guild_id = models.BigIntegerField("server")
    author_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["guild_id", "author_id"], name="giver_unique")]

    def __str__(self):
        return f"user {self.author_id} in server {self.guild_id}"


class SettingChange(models.Model):
    """Who changed a server's setting, when, from what to what (in Discord or in the admin)."""

    guild_id = models.BigIntegerField("server")
    setting = models.CharField(max_length=32)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)
    changed_by = models.CharField(max_length=200, help_text="The Discord member or the admin user.")
    admin_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self):
        return f"{self.setting}: {self.old} -> {self.new}"


class Member(models.Model):
    """Who goes by a username in a server, so that the karma of a name can give roles to a person.

    Karma keeps names; Discord gives roles to ids. Recorded from the messages of servers with role
    rewards on only (their authors and the people they mention: karma/roles/follow.py), so that other
    servers pay nothing. A person renamed since is found by their new name once they speak again.
    """

    guild_id = models.BigIntegerField("server")
    user_id = models.BigIntegerField()
    username = ExactCharField(max_length=MAX_NAME_LENGTH)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["guild_id", "user_id"], name="member_once")]
        indexes = [models.Index(fields=["guild_id", "username"], name="member_by_name")]

    def __str__(self):
        return f"{self.username} ({self.user_id}) in server {self.guild_id}"

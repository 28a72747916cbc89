"""The fake Discord's REST side enforces Discord's rate limits, with Discord's headers and 429 bodies."""

import json
import time
import urllib.error
import urllib.request

import pytest

from testkit.fakediscord import FakeDiscord

THUMBS_UP = "%F0%9F%91%8D"


@pytest.fixture
def make_fake():
    """Start fakes with the given options; stop them all afterwards."""
    fakes = []

    def make(**options):
        fake = FakeDiscord(**options).start()
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.stop()


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.data = json.loads(body) if headers.get("Content-Type") == "application/json" else None

    def header(self, name):
        return self.headers.get(name)


def call(fake, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        fake.api_url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bot {fake.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def post_message(fake, channel_id):
    return call(fake, "POST", f"/channels/{channel_id}/messages", {"content": "hi"})


def react(fake, channel_id, message_id=1234):
    return call(fake, "PUT", f"/channels/{channel_id}/messages/{message_id}/reactions/{THUMBS_UP}/@me")


def assert_rate_limited(answer, scope, is_global):
    assert answer.status == 429
    assert answer.data["message"] == "You are being rate limited."
    assert answer.data["global"] is is_global
    assert answer.data["retry_after"] > 0
    assert answer.header("X-RateLimit-Scope") == scope
    assert answer.header("X-RateLimit-Remaining") == "0"
    assert answer.header("Via") == "1.1 google"
    assert int(answer.header("Retry-After")) >= answer.data["retry_after"]  # whole seconds, rounded up
    assert answer.header("X-RateLimit-Global") == ("true" if is_global else None)


def test_a_channel_takes_five_messages_per_five_seconds(make_fake):
    fake = make_fake(**FakeDiscord.DISCORD_LIMITS)
    guild = fake.add_guild("g", channels=2)
    busy, other = guild.channel_ids

    answers = [post_message(fake, busy) for _ in range(6)]

    assert [a.status for a in answers[:5]] == [200] * 5
    assert [a.header("X-RateLimit-Remaining") for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert {a.header("X-RateLimit-Limit") for a in answers} == {"5"}
    assert len({a.header("X-RateLimit-Bucket") for a in answers}) == 1
    for answer in answers[:5]:
        assert 0 < float(answer.header("X-RateLimit-Reset-After")) <= 5
        assert abs(float(answer.header("X-RateLimit-Reset")) - time.time() - 5) < 1
    refused = answers[5]
    assert_rate_limited(refused, scope="user", is_global=False)
    assert refused.data["retry_after"] <= 5
    assert refused.header("X-RateLimit-Reset-After") == f"{refused.data['retry_after']:.3f}"
    assert len(fake.messages) == 5

    elsewhere = post_message(fake, other)
    assert elsewhere.status == 200
    assert elsewhere.header("X-RateLimit-Remaining") == "4"
    assert elsewhere.header("X-RateLimit-Bucket") == answers[0].header("X-RateLimit-Bucket")  # no channel in it

    assert fake.too_many_requests() == 1
    assert fake.rate_limit_violations() == 1
    assert [status for _, _, _, status in fake.rest_times] == [200] * 5 + [429, 200]
    assert [status for _, _, status in fake.rest_log] == [200] * 5 + [429, 200]
    arrivals = [arrival for arrival, _, _, _ in fake.rest_times]
    assert arrivals == sorted(arrivals)


def test_a_channel_accepts_again_once_the_window_has_passed(make_fake):
    fake = make_fake(message_limit=(2, 0.5))
    channel = fake.add_guild("g").channel_ids[0]

    assert [post_message(fake, channel).status for _ in range(2)] == [200, 200]
    refused = post_message(fake, channel)
    assert_rate_limited(refused, scope="user", is_global=False)
    assert refused.data["retry_after"] <= 0.5
    assert post_message(fake, channel).status == 429  # a 429 does not move the window

    time.sleep(refused.data["retry_after"])
    again = post_message(fake, channel)
    assert again.status == 200
    assert again.header("X-RateLimit-Remaining") == "1"
    assert float(again.header("X-RateLimit-Reset-After")) > 0.4  # a new window, opened by this request
    assert fake.rate_limit_violations() == 2


def test_the_global_limit_counts_every_route_of_the_bot(make_fake):
    fake = make_fake(global_limit=5, message_limit=(10, 5.0))
    channel = fake.add_guild("g").channel_ids[0]

    accepted = [call(fake, "GET", "/users/@me"), react(fake, channel)] + [post_message(fake, channel) for _ in range(3)]
    assert [a.status for a in accepted] == [200, 204, 200, 200, 200]
    assert accepted[-1].header("X-RateLimit-Remaining") == "7"

    refused = post_message(fake, channel)
    assert_rate_limited(refused, scope="global", is_global=True)
    assert refused.data["retry_after"] <= 1.0
    assert call(fake, "GET", "/gateway/bot").status == 429  # every route

    time.sleep(refused.data["retry_after"])
    again = post_message(fake, channel)
    assert again.status == 200
    assert again.header("X-RateLimit-Remaining") == "6"  # the global 429s took nothing from the channel's bucket
    assert fake.rate_limit_violations() == 2
    assert [scope for _, _, _, scope in fake.limit_hits] == ["global", "global"]


def test_reactions_have_their_own_bucket(make_fake):
    fake = make_fake(**FakeDiscord.DISCORD_LIMITS)
    channel = fake.add_guild("g").channel_ids[0]

    first = react(fake, channel, message_id=1)
    second = react(fake, channel, message_id=2)
    message = post_message(fake, channel)

    assert first.status == 204
    assert first.header("X-RateLimit-Limit") == "1"
    assert first.header("X-RateLimit-Remaining") == "0"
    assert 0 < float(first.header("X-RateLimit-Reset-After")) <= 0.25
    assert_rate_limited(second, scope="user", is_global=False)
    assert second.data["retry_after"] <= 0.25
    assert message.status == 200
    assert message.header("X-RateLimit-Remaining") == "4"
    assert first.header("X-RateLimit-Bucket") != message.header("X-RateLimit-Bucket")
    assert fake.reactions_to(1) == ["👍"]
    assert fake.reactions_to(2) == []

    time.sleep(second.data["retry_after"])
    assert react(fake, channel, message_id=2).status == 204


def test_routes_without_a_bucket_still_carry_rate_limit_headers(make_fake):
    fake = make_fake(**FakeDiscord.DISCORD_LIMITS)

    for answer in (call(fake, "GET", "/users/@me"), call(fake, "GET", "/nothing/here")):
        assert answer.header("X-RateLimit-Limit")
        assert answer.header("X-RateLimit-Remaining")
        assert answer.header("X-RateLimit-Reset")
        assert answer.header("X-RateLimit-Reset-After")
        assert answer.header("X-RateLimit-Bucket")
        assert answer.header("Via") == "1.1 google"


def test_injected_failures(make_fake):
    fake = make_fake()
    channel = fake.add_guild("g").channel_ids[0]

    fake.fail_rest(403, seconds=30)
    forbidden = post_message(fake, channel)
    assert forbidden.status == 403
    assert forbidden.data == {"message": "Missing Permissions", "code": 50013}

    fake.fail_rest(404, seconds=30)
    assert post_message(fake, channel).data["code"] == 10003  # Unknown Channel
    assert react(fake, channel).data["code"] == 10008  # Unknown Message

    fake.fail_rest(429, seconds=30, retry_after=0.5)
    assert_rate_limited(post_message(fake, channel), scope="shared", is_global=False)
    fake.fail_rest(429, seconds=30, retry_after=2.5, is_global=True)
    shared_global = react(fake, channel)
    assert_rate_limited(shared_global, scope="global", is_global=True)
    assert shared_global.data["retry_after"] == 2.5
    assert shared_global.header("Retry-After") == "3"

    fake.fail_rest(502, seconds=30)
    assert post_message(fake, channel).status == 502

    fake.fail_rest(429, seconds=0)
    assert post_message(fake, channel).status == 200
    assert fake.too_many_requests() == 2
    assert fake.rate_limit_violations() == 0
    assert len(fake.messages) == 1


def test_environment_tells_popple_the_global_limit(make_fake):
    fake = make_fake(global_limit=7)
    environment = fake.environment()
    assert environment["DISCORD_GLOBAL_RATE_LIMIT"] == "7"
    assert environment["DISCORD_API_BASE_URL"] == fake.api_url
    assert FakeDiscord().environment()["DISCORD_GLOBAL_RATE_LIMIT"] == "10000"
    assert FakeDiscord(**FakeDiscord.DISCORD_LIMITS).environment()["DISCORD_GLOBAL_RATE_LIMIT"] == "50"


def test_interactions_follow_discords_rules(make_fake):
    fake = make_fake()
    guild = fake.add_guild("slash")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)

    def interaction(age=0.0):
        body = fake._interaction_object(guild, alice, "top", {})
        made = fake.interaction(int(body["id"]))
        made.created -= age
        return made

    def callback(made, kind=5):
        return call(fake, "POST", f"/interactions/{made.id}/{made.token}/callback", {"type": kind, "data": {}})

    def edit(made):
        return call(fake, "PATCH", f"/webhooks/{fake.application_id}/{made.token}/messages/@original", {"content": "x"})

    fresh = interaction()
    assert edit(fresh).status == 404  # nothing to edit before the response
    assert callback(fresh).status == 200
    assert (callback(fresh).status, fresh.repeated_callbacks) == (400, 1)  # acknowledged already
    assert (edit(fresh).status, fresh.content, fresh.edits) == (200, "x", 1)
    followup = call(fake, "POST", f"/webhooks/{fake.application_id}/{fresh.token}", {"content": "more"})
    assert (followup.status, fresh.followups) == (200, ["more"])

    late = interaction(age=3.5)
    assert (callback(late).status, late.late_callbacks, late.response_type) == (404, 1, None)
    expired = interaction(age=15 * 60 + 1)
    assert edit(expired).status == 401
    assert call(fake, "POST", f"/interactions/{fresh.id}/not-its-token/callback", {"type": 5}).status == 404


def test_commands_are_registered_by_bulk_overwrite(make_fake):
    fake = make_fake()
    path = f"/applications/{fake.application_id}/commands"
    assert call(fake, "PUT", path, [{"name": "a"}, {"name": "b"}]).status == 200
    assert call(fake, "PUT", path, [{"name": "b"}]).status == 200
    assert [command["name"] for command in fake.commands[None]] == ["b"]
    assert call(fake, "PUT", path, [{"name": "c"}, {"name": "c"}]).status == 400  # names are unique
    assert call(fake, "PUT", f"/applications/{fake.application_id}/guilds/42/commands", [{"name": "d"}]).status == 200
    assert [command["name"] for command in fake.commands[42]] == ["d"]


def test_add_guilds_makes_servers_by_name_with_the_same_members():
    fake = FakeDiscord()
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    guilds = fake.add_guilds(("one", "two"), alice, bob)
    assert list(guilds) == ["one", "two"]
    assert [guild.name for guild in guilds.values()] == ["one", "two"]
    for guild in guilds.values():
        assert fake.guilds[guild.id] is guild
        assert {alice, bob} <= set(guild.members)
        assert guild.members[alice] == guild.members[bob] == []  # no roles: neither manages the server

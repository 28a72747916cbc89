"""Who Popple is to Discord, and so where its state lives in Redis."""

import base64

from botgateway.discordapi import redis_prefix


def test_the_redis_prefix_is_the_bots_application_id(settings):
    settings.DISCORD_TOKEN = base64.b64encode(b"123456789012345678").decode().rstrip("=") + ".GxY7aB.secret-part"
    settings.REDIS_NAMESPACE = ""
    assert redis_prefix() == "popple:123456789012345678:"


def test_a_token_discord_did_not_make_gets_a_digest_not_its_text(settings):
    settings.DISCORD_TOKEN = "fake-bot-token.popple.test"
    settings.REDIS_NAMESPACE = ""
    prefix = redis_prefix()
    assert prefix.startswith("popple:token-")
    assert "fake" not in prefix


def test_a_configured_namespace_wins(settings):
    settings.DISCORD_TOKEN = "fake-bot-token.popple.test"
    settings.REDIS_NAMESPACE = "staging"
    assert redis_prefix() == "popple:staging:"

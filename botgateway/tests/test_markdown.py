"""The domain escapes Discord's markdown without depending on discord.py (karma/replies.py); here,
beside the gateway that does depend on it, the two are checked to agree."""

import discord.utils
from hypothesis import given
from hypothesis import strategies as st

from karma.replies import escape_markdown


@given(st.text(alphabet=st.sampled_from(list("ab _*~|`\\>#-[]():/.<> \nhtps")), max_size=60))
def test_markdown_is_escaped_as_discordpy_escapes_it(text):
    assert escape_markdown(text) == discord.utils.escape_markdown(text)

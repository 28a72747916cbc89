"""What the gateway keeps to forward reactions: authors' names, bounded, and the events' order."""

from botgateway.reactions import BOT, Authors, Stamps
from botgateway.snowflakes import reaction_reply_id, sent_at


def test_authors_are_remembered_least_recently_seen_forgotten_first():
    authors = Authors(size=2)
    authors.saw(1, "alice", bot=False)
    authors.saw(2, "robot", bot=True)
    assert authors.name_of(1) == "alice"  # seen again: now the most recent
    authors.saw(3, "carol", bot=False)
    assert (authors.name_of(1), authors.name_of(2), authors.name_of(3)) == ("alice", None, "carol")
    authors.saw(3, "caroline", bot=False)  # renamed
    assert authors.name_of(3) == "caroline"
    authors.saw(4, "hook", bot=True)
    assert authors.name_of(4) == BOT
    assert len(authors) == 2


def test_stamps_rise_strictly_and_each_reply_id_is_its_own():
    stamps = Stamps()
    taken = [stamps.next() for _ in range(10_000)]  # many within one clock tick
    assert taken == sorted(set(taken))
    ids = [reaction_reply_id(stamp) for stamp in taken]
    assert ids == sorted(set(ids))  # ordered as the events came, never two alike
    assert abs(sent_at(ids[0]) - taken[0] / 1e9) < 0.002  # and says when

"""The evidence of the database's versions that lets delivery believe a channel's memory."""

import time

from botgateway.known_versions import KnownVersions


def test_a_version_seen_is_reached_and_so_is_every_older_one():
    known = KnownVersions()
    known.saw(1, "x", 5)
    known.saw(1, "x", 3)  # an older line, later: the database reached 5 all the same
    assert known.reached(1, "x", 5)
    assert known.reached(1, "x", 2)
    assert not known.reached(1, "x", 6)
    assert not known.reached(2, "x", 5)  # another server's x
    assert not known.reached(1, "y", 1)


def test_evidence_counts_for_a_while_only():
    known = KnownVersions(seconds=0.05)
    known.saw(1, "x", 5)
    time.sleep(0.1)
    assert not known.reached(1, "x", 5)
    known.saw(1, "x", 2)  # what came before the pause counts no more
    assert not known.reached(1, "x", 5)
    assert known.reached(1, "x", 2)


def test_an_unknown_server_is_no_evidence():
    known = KnownVersions()
    known.saw(0, "x", 5)
    assert not known.reached(0, "x", 5)


def test_it_forgets_rather_than_grows_past_its_limit():
    known = KnownVersions(limit=10)
    for n in range(25):
        known.saw(1, f"s{n}", 1)
        assert len(known._seen) <= 10
    assert known.reached(1, "s24", 1)  # the newest is kept


def test_it_forgets_the_stale_first():
    known = KnownVersions(seconds=0.05, limit=4)
    for n in range(3):
        known.saw(1, f"old{n}", 1)
    time.sleep(0.1)
    known.saw(1, "fresh", 1)
    known.saw(1, "new", 1)  # the limit is reached: the stale go, the fresh stay
    assert known.reached(1, "fresh", 1)
    assert known.reached(1, "new", 1)
    assert len(known._seen) == 2

import pytest

from botgateway.shards import shard_ids


@pytest.mark.parametrize(
    "text, count, expected",
    [
        ("", 0, None),
        ("", 4, None),
        ("0", 2, [0]),
        ("0,2", 4, [0, 2]),
        ("0-3", 4, [0, 1, 2, 3]),
        ("3, 0-1", 4, [0, 1, 3]),
    ],
)
def test_shard_ids(text, count, expected):
    assert shard_ids(text, count) == expected


@pytest.mark.parametrize(
    "text, count, problem",
    [("1", 0, "needs DISCORD_SHARD_COUNT"), ("4", 4, "outside 0-3"), ("2-1", 4, "outside"), ("a", 2, "not a shard")],
)
def test_bad_shard_ids(text, count, problem):
    with pytest.raises(ValueError, match=problem):
        shard_ids(text, count)

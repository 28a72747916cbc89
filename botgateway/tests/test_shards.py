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
        ("0/1", 3, [0, 1, 2]),
        ("2/4", 16, [8, 9, 10, 11]),
        ("3/4", 10, [7, 8, 9]),
    ],
)
def test_shard_ids(text, count, expected):
    assert shard_ids(text, count) == expected


@pytest.mark.parametrize(
    "text, count, problem",
    [("1", 0, "needs DISCORD_SHARD_COUNT"), ("4", 4, "outside 0-3"), ("2-1", 4, "outside"), ("a", 2, "not a shard"),
     ("4/4", 16, "part must be 0-3"), ("0/5", 4, "parts must be 1-4"), ("a/4", 4, "not a part"),
     ("-1/4", 4, "part must be")],
)  # fmt: skip
def test_bad_shard_ids(text, count, problem):
    with pytest.raises(ValueError, match=problem):
        shard_ids(text, count)


@pytest.mark.parametrize("count, parts", [(1, 1), (16, 4), (10, 4), (64, 3), (7, 7)])
def test_parts_share_every_shard_once(count, parts):
    # What a StatefulSet of `parts` gateways runs, each told its ordinal (deploy/kubernetes).
    shares = [shard_ids(f"{index}/{parts}", count) for index in range(parts)]
    assert sorted(shard for share in shares for shard in share) == list(range(count))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1

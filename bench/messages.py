"""Chat lines for the benchmarks: what a busy server says, karma and all."""

import random

SUBJECTS = ["Popple", "coffee", "tea", "the build", "(the build server)", "café", "🎉", "deploys", "mondays", "ci"]
CHATTER = [
    "good morning everyone",
    "has anyone seen the deploy logs from last night?",
    "I think the `flaky_test` needs another look",
    "lunch at noon?",
    "see https://example.com/issues/42 for details",
]


def karma_line(rng):
    """One to three karma changes (never cancelling out), sometimes with chatter around them."""
    parts = [f"{subject}{rng.choice(['++', '++', '--'])}" for subject in rng.sample(SUBJECTS, rng.randint(1, 3))]
    if rng.random() < 0.3:
        parts.insert(0, "thanks")
    if rng.random() < 0.3:
        parts.append("!")
    return " ".join(parts)


def karma_lines(count, seed=2026):
    rng = random.Random(seed)
    return [karma_line(rng) for _ in range(count)]


def typical_lines(count, seed=2026):
    """Chat as it comes: mostly no karma at all."""
    rng = random.Random(seed)
    return [karma_line(rng) if rng.random() < 0.3 else rng.choice(CHATTER) for _ in range(count)]

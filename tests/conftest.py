"""Shared fixtures: fictional text made up on the spot, so tests need no third-party data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

_SYLLABLES = (
    "ka lo mi ra tun ve sol dar en bri co fa nel ost pra qui sen tor ul var wen yel zor".split()
)
_COMMON = "the of and to in a that said on for with as was by at from its will has have".split()


def make_words(rng: random.Random, n: int) -> list[str]:
    words = []
    for _ in range(n):
        if rng.random() < 0.35:
            words.append(rng.choice(_COMMON))
        else:
            words.append("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))))
    return words


def make_story(seed: int, paragraphs: int = 6, words_per_paragraph: int = 60) -> str:
    """A fictional story: paragraphs of sentences of invented words."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        words = make_words(rng, words_per_paragraph)
        sentences = []
        for i in range(0, len(words), 12):
            s = " ".join(words[i : i + 12])
            sentences.append(s[0].upper() + s[1:] + ".")
        out.append(" ".join(sentences))
    return "\n\n".join(out)


@pytest.fixture
def story():
    return make_story

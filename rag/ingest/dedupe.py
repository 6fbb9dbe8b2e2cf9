"""Near-duplicate stories (the same wire story syndicated twice): bottom-k MinHash sketches of word 5-shingles."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

NEAR_DUPLICATE = 0.8  # estimated Jaccard of word 5-shingles at which two texts are one story
SKETCH = 64


def sketch(text: str, k: int = SKETCH) -> list[int]:
    """Bottom-k MinHash sketch of the text's word 5-shingles."""
    words = re.findall(r"\w+", text.casefold())
    shingles = {" ".join(words[i : i + 5]) for i in range(max(1, len(words) - 4))}
    hashes = sorted(int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in shingles)
    return hashes[:k]


def similarity(a: list[int], b: list[int], k: int = SKETCH) -> float:
    """Jaccard estimate from two bottom-k sketches."""
    union = sorted(set(a) | set(b))[:k]
    if not union:
        return 0.0
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


class DuplicateFinder:
    """Finds an already stored article that tells the same story as a new one."""

    def __init__(self, sketches: dict[str, list[int]]) -> None:
        self.sketches = dict(sketches)
        self.by_hash: dict[int, set[str]] = {}
        for aid, sk in sketches.items():
            self._index(aid, sk)

    def _index(self, aid: str, sk: list[int]) -> None:
        for h in sk:
            self.by_hash.setdefault(h, set()).add(aid)

    def find(self, aid: str, sk: list[int]) -> str | None:
        votes = Counter(other for h in sk for other in self.by_hash.get(h, ()) if other != aid)
        for other, n in votes.most_common(5):
            if n < len(sk) * NEAR_DUPLICATE / 2:
                break
            if similarity(sk, self.sketches[other]) >= NEAR_DUPLICATE:
                return other
        return None

    def add(self, aid: str, sk: list[int]) -> None:
        self.sketches[aid] = sk
        self._index(aid, sk)

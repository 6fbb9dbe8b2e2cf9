"""Citation checking: does a cited sentence really support the claim? Re-cite or drop when it does not."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.qtype import stems
from rag.retrieve import Evidence
from rag.sentences import split_spans

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
SUPPORTED = 0.6  # share of a claim's new content words that the cited sentence must contain
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules|above|previous)\b|\bsystem prompt\b|"
    r"\byou are now\b|\bnew instructions?\b|\bas an ai\b|\brespond only with\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    text: str  # without markers
    cited: tuple[int, ...]  # 1-based evidence numbers the model cited


def parse_claims(answer: str) -> list[Claim]:
    """Split a drafted answer into sentences and the [n] markers each carries."""
    claims = []
    for s, e in split_spans(answer):
        piece = answer[s:e]
        cited = tuple(int(n) for m in MARKER.finditer(piece) for n in m.group(1).split(","))
        text = MARKER.sub("", piece).strip()
        if text:
            claims.append(Claim(text, cited))
    return claims


def new_words(claim: str, question: str) -> set[str]:
    """The claim's content-word stems that the question did not already contain: what the claim asserts."""
    return stems(claim) - stems(question)


def support(claim: str, question: str, sentence: str) -> float:
    """Share of the claim's new content words found in the sentence (0 when the claim adds nothing)."""
    new = new_words(claim, question)
    if not new:
        return 0.0
    have = stems(sentence)
    return len(new & have) / len(new)


def snap(claim: str, sentence: str) -> str:
    """Write names the way the source does: a capitalised claim word whose stem matches a source word
    ("Zelenskyy" for "Zelensky") takes the source's spelling."""
    source = {stem_of(w): w for w in re.findall(r"[\w'’-]+", sentence) if w[:1].isupper()}

    def fix(m: re.Match[str]) -> str:
        word = m.group()
        if not word[:1].isupper():
            return word
        return source.get(stem_of(word), word)

    return re.sub(r"[\w'’-]+", fix, claim)


def stem_of(word: str) -> str:
    return next(iter(stems(word)), word.lower())


def looks_like_injection(text: str) -> bool:
    """Sentences addressed to the model, not to readers: treated as data, never as evidence."""
    return bool(_INJECTION.search(text))


@dataclass(frozen=True)
class Checked:
    claim: str
    evidence: Evidence
    support: float
    recited: bool  # True when the model's own marker was wrong (or missing) and we chose the sentence


def check_claim(claim: Claim, question: str, evidence: list[Evidence]) -> Checked | None:
    """Keep the model's citation when it supports the claim, else re-cite the best supporting sentence, else None."""
    scored = [(support(claim.text, question, ev.sentence.text), ev) for ev in evidence]
    for n in claim.cited:
        if 1 <= n <= len(evidence) and scored[n - 1][0] >= SUPPORTED:
            return Checked(snap(claim.text, evidence[n - 1].sentence.text), evidence[n - 1], scored[n - 1][0], False)
    best = max(scored, key=lambda se: (se[0] + 0.3 * se[1].score, se[1].score), default=None)
    if best is None or best[0] < SUPPORTED:
        return None
    return Checked(snap(claim.text, best[1].sentence.text), best[1], best[0], recited=True)

"""Citation checking: does a cited sentence really support the claim? Re-cite or drop when it does not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.answer.answerability import stems
from rag.answer.retrieve import Evidence
from rag.ingest.sentences import split_spans

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
SUPPORTED = 0.6  # share of a claim's new content words that the cited sentence must contain
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b (all |any )?((the|your|of|previous|prior|earlier|preceding|system) )*"
    r"(above|instructions?|prompts?|rules|directions|messages)\b|\bsystem prompt\b|\byou are now (a|an|in)\b|"
    r"\bnew instructions?:|"
    r"\b(assistant|ai|model|chatbot)s?,? (must|should) (now )?(answer|say|reply|respond)\b|\brespond only with\b",
    re.IGNORECASE,
)
# a marker written after the full stop ("... Council. [1] The team ...") belongs to the sentence before it
_MARKER_AFTER_STOP = re.compile(r"([.!?])\s*((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)")
_FINISHED = re.compile(r"[.!?…][\"'”’)\]]*$")  # a sentence's end, past closing quotes and brackets
# a label the model writes before a claim ("Long answer: …", "The answer is: eggs.", a list's "1. "): not its content
_LEAD_IN = re.compile(
    r"^(?:(?:(?:the|my)\s+)?(?:short\s+|long\s+|final\s+)?answer(?:\s*[:\-–]|\s+is\s*:?)\s*|\d{1,2}[.)]\s+)+",
    re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    text: str  # without markers
    cited: tuple[int, ...]  # 1-based evidence numbers the model cited


def parse_claims(answer: str) -> list[Claim]:
    """Split a drafted answer into sentences and the [n] markers each carries."""
    answer = _MARKER_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)} ", answer)
    claims = []
    for s, e in split_spans(answer):
        piece = answer[s:e]
        cited = tuple(int(n) for m in MARKER.finditer(piece) for n in m.group(1).split(","))
        text = _LEAD_IN.sub("", MARKER.sub("", piece).strip()).strip()
        if text:
            claims.append(Claim(text, cited))
    return claims


def cut_short(claims: Sequence[Claim]) -> Claim | None:
    """The last of several claims when the model did not finish it (its token budget ran out mid-sentence: "The
    team's owner, Arte Moreno, announced Tuesday that he has … selling the franchise he originally"). Such a claim is
    shown as the whole sentence it rests on (`Answerer.check`): the source finishes it, in its own words."""
    last = claims[-1] if len(claims) > 1 else None
    return last if last is not None and not _FINISHED.search(last.text) else None


def new_words(claim: str, question: str) -> set[str]:
    """The claim's content-word stems that the question did not already contain: what the claim asserts."""
    return stems(claim) - stems(question)


def support(claim: str, question: str, sentence: str) -> float:
    """Share of the claim's new content words found in the sentence (0 when the claim adds nothing).
    Names and numbers weigh double: "held in Istanbul" rests on "Istanbul", not on "held"."""
    new = new_words(claim, question)
    if not new:
        return 0.0
    key = key_words(claim)
    weight = {w: 2.0 if w in key else 1.0 for w in new}
    have = stems(sentence)
    return sum(v for w, v in weight.items() if w in have) / sum(weight.values())


# where a claim's leading clause ends: a comma, a bracket, a dash, or a word that opens another clause
_CLAUSE_END = re.compile(r"\s*(?:[,;:](?=\s)|\s\(|\s[—–-]{1,2}\s|"
                         r"\s(?:and|but|which|who|whose|where|while|after|before|because|"
                         r"as|about|with|including|than)\s)", re.IGNORECASE)


def supported_part(claim: Claim, question: str, sentences: Sequence[str]) -> Claim:
    """The claim, or, when no sentence supports it whole, its longest leading clause that one supports: a tiny
    model states the answer first and then goes on past what its sentence says, or runs out of tokens mid-number
    ("The Thwaites Glacier is located in West Antarctica, about 1,000 kilometers (620 miles" keeps "The Thwaites
    Glacier is located in West Antarctica."). Such a clause must have all its names and numbers in the sentence
    (not "…, about 1,000 kilometers."), and add something to the question."""
    if not new_words(claim.text, question) or any(support(claim.text, question, s) >= SUPPORTED for s in sentences):
        return claim
    for m in reversed(list(_CLAUSE_END.finditer(claim.text))):
        head = claim.text[: m.start()].rstrip(" ,;:.")
        if new_words(head, question) and any(support(head, question, s) >= SUPPORTED and key_words(head) <= stems(s)
                                             for s in sentences):
            return Claim(head + ".", claim.cited)
    return claim


def key_words(claim: str) -> set[str]:
    """The stems of the claim's names and numbers (its capitalised words and those that start with a digit)."""
    return stems(" ".join(w for w in re.findall(r"[\w'’%$.-]+", claim) if w[:1].isupper() or w[:1].isdigit()))


def snap(claim: str, sentence: str) -> str:
    """Write names the way the source does: a capitalised claim word whose stem matches a source word
    ("Zelenskyy" for "Zelensky") takes the source's spelling."""
    written = re.findall(r"[\w'’-]+", sentence)
    source: dict[str, list[str]] = {}
    for w in written:
        if w[:1].isupper():
            source.setdefault(stem_of(w), []).append(w)

    def fix(m: re.Match[str]) -> str:
        word = m.group()  # a word the source writes as is stays ("Angeles" beside "Angels" in "Los Angeles Angels")
        if not word[:1].isupper() or word in written:
            return word
        # of the source's words with its stem, the closest spelling
        other = max(source.get(stem_of(word), []), key=lambda w: SequenceMatcher(None, w, word).ratio(), default="")
        return other if other and _variant(word, other) else word

    return re.sub(r"[\w'’-]+", fix, claim)


def _variant(a: str, b: str) -> bool:
    """Two spellings of one name ("Zelenskyy"/"Zelensky"), not two words ("Russia"/"Russian", "Putin"/"Putin's")."""
    shorter, longer = sorted((a.lower(), b.lower()), key=len)
    if longer.startswith(shorter) and longer[len(shorter):] in {"n", "an", "ian", "s", "es", "'s", "’s"}:
        return False
    return SequenceMatcher(None, a.lower(), b.lower()).ratio() >= 0.8


def stem_of(word: str) -> str:
    return next(iter(stems(word)), word.lower())


def looks_like_injection(text: str) -> bool:
    """Sentences addressed to the model, not to readers: treated as data, never as evidence."""
    return bool(_INJECTION.search(text))


# an answer option of a quiz page ("A. IKEA", "B) 40", 'C. "Breaking Bad"'): a label and a few words, no full stop
_OPTION = re.compile(r"^\(?[A-D][.)]\s+\S.*(?<![.!?])$")
OPTION_WORDS = 6


def is_option(text: str) -> bool:
    """A multiple-choice option, not a statement. A news quiz's own page is among what a web search finds for its
    questions, and a tiny model reading "A. IKEA B. Bed Bath & Beyond …" answers with one of them."""
    text = text.strip()
    return bool(_OPTION.match(text)) and len(text.split()) <= OPTION_WORDS


def can_be_evidence(text: str) -> bool:
    """False for sentences the model does not read and no answer rests on: addressed to the model, or a quiz's
    option."""
    return not (looks_like_injection(text) or is_option(text))


@dataclass(frozen=True)
class Checked:
    claim: str
    evidence: Evidence
    support: float
    recited: bool  # True when the model's own marker was wrong (or missing) and we chose the sentence


def check_claim(claim: Claim, question: str, evidence: list[Evidence], likely: Sequence[float] | None = None,
                keep_at: float = 0.0, numbered: int | None = None) -> Checked | None:
    """Keep the model's citation when that sentence supports the claim, else re-cite the best supporting sentence,
    else None. With `likely` (the verifier's probability that each sentence answers the question), a supporting
    sentence must also be at least `keep_at` likely, and the one with the most support times likelihood is chosen:
    a claim rests on the sentence that states it ("KFC is testing out new chicken nuggets …", support 1.0) rather than
    on one a little likelier that holds part of it (0.67). `numbered`: how many of the evidence sentences carried a
    number in the prompt (a marker beyond them is not the model's own)."""
    numbered = len(evidence) if numbered is None else min(numbered, len(evidence))
    likely = likely if likely is not None else [1.0] * len(evidence)
    scored = [(support(claim.text, question, ev.sentence.text), ev, p) for ev, p in zip(evidence, likely, strict=True)]
    for n in claim.cited:
        if 1 <= n <= numbered and scored[n - 1][0] >= SUPPORTED and scored[n - 1][2] >= keep_at:
            return Checked(snap(claim.text, evidence[n - 1].sentence.text), evidence[n - 1], scored[n - 1][0], False)
    ok = [x for x in scored if x[0] >= SUPPORTED and x[2] >= keep_at]
    if not ok:
        return None
    sup, ev, _ = max(ok, key=lambda x: (x[0] * x[2], x[2], x[1].score))
    return Checked(snap(claim.text, ev.sentence.text), ev, sup, recited=True)

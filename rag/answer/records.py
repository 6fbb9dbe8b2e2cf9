"""What answering returns: an `Answer` and its `Citation`s, plain frozen records (JSON via `to_dict`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Citation:
    n: int
    article_id: str
    title: str
    source: str
    date: str
    url: str
    sentence_id: str
    start: int
    end: int
    text: str
    score: float  # support of the claim by this sentence (relevance, for the closest sentences of a refusal)


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    mode: str  # "generated" | "extractive" | "verdict" (a yes/no question's "Yes"/"No") | "refused"
    closest: tuple[Citation, ...] = ()  # for refusals: the nearest sentences found
    standalone_question: str = ""
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    draft: str = ""  # the model's raw text before checking
    prompt_key: str = ""  # which prompt the draft answers (`Prompt.key`); "" when the model wrote nothing
    retrieved: tuple[str, ...] = ()  # sentence ids of the retrieved chunks (for evals and debugging)
    sources_disagree: bool = False  # another article states a different amount; it is cited last

    def to_dict(self) -> dict:
        return asdict(self)

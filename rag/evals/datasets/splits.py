"""The fixed dev/test split of the public data, written down here and nowhere else.

Tune on dev, report test (`rag eval NAME --split dev|test`; `--split all`, the default, is every question):

* RealTimeQA (and `long`, built from it): by quiz week. Weeks up to `REALTIMEQA_LAST_DEV_WEEK` (2022-06-17 …
  2022-08-26, the first 11 of 22) are dev, the later ones (2022-09-02 … 2022-11-11) test: 98 / 96 questions.
  A later week can ask about what an earlier week reported, never the other way round, so test is the future.
* RGB, rgb-refusal, QuAIL: by question id: dev when the first byte of sha1("split:" + id) is even, else test
  (RGB 52 / 48; QuAIL 258 / 282, 34 / 26 of them unanswerable). A question keeps its split whatever else is in
  the data. QuAIL questions on the same text can fall on both sides: the split is of questions, not texts.
* `absent` (built from RealTimeQA and RGB questions): the split of the question it was built from.
"""

from __future__ import annotations

import hashlib

SPLITS = ("all", "dev", "test")
REALTIMEQA_LAST_DEV_WEEK = "20220826"


def by_week(week: str) -> str:
    """RealTimeQA: 'dev' for quiz weeks (YYYYMMDD) up to REALTIMEQA_LAST_DEV_WEEK, else 'test'."""
    return "dev" if week <= REALTIMEQA_LAST_DEV_WEEK else "test"


def by_id(question_id: str) -> str:
    """RGB and QuAIL: 'dev' or 'test' from a hash of the question id (stable across Python versions)."""
    return "dev" if hashlib.sha1(f"split:{question_id}".encode()).digest()[0] % 2 == 0 else "test"

"""QuAIL v1.3 dev, news domain (Rogers et al., AAAI 2020; CC BY-NC-SA 4.0).

File: `<evaldata>/quail/quail_1.3_dev.xml`. The 30 VOA news texts (`domain="news"`) and their 540 questions in 9
types; the answers are the multiple-choice options marked `correct="True"`. Questions of type `Unanswerable` (60,
gold "not enough information") are unanswerable: they must be refused. Evidence = the text id; the corpus = the
question's text. Split: by question id (`splits.by_id`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rag.evals.datasets import splits
from rag.evals.datasets.common import Item, require, squash
from rag.evals.questions import Question
from rag.ingest.articles import Article

DESCRIPTION = ("QuAIL v1.3 dev, news domain (Rogers et al.; CC BY-NC-SA 4.0): 30 VOA texts and their questions; "
               "multiple-choice answers, 'Unanswerable' questions marked unanswerable; evidence = text id.")


def items(root: Path) -> list[Item]:
    tree = ET.parse(require(root / "quail" / "quail_1.3_dev.xml"))
    out: list[Item] = []
    for text in tree.getroot().iterfind("text"):
        if text.get("domain") != "news":
            continue
        tid = text.get("id", "")
        article = Article(tid, _xml_text(text, "metadata/title"), (text.findtext("text_body") or "").strip(),
                          source="VOA News", url=_xml_text(text, "metadata/url"))
        for q in text.iterfind("questions/q"):
            kind = q.get("type", "")
            answerable = kind != "Unanswerable"
            correct = [squash(a.text or "") for a in q.iterfind("a") if a.get("correct") == "True"]
            qid = f"quail-{tid}-{q.get('id')}"
            question = Question(qid, squash(q.text or ""), tuple(correct) if answerable else (), answerable,
                                (tid,) if answerable else (), category=kind)
            out.append(Item(question, (article,), splits.by_id(qid)))
    return out


def _xml_text(elem: ET.Element, path: str) -> str:
    return squash(elem.findtext(path) or "")

"""The built-in question sets: the dev/test split, in-memory building with thresholds from evals/<name>.toml, and the
`absent` and `long` builders, pinned exactly on tiny synthetic data (no model, no index)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.evals import datasets
from rag.evals.datasets import absent, long, outlets, polar, splits
from rag.evals.datasets.common import Item, sample
from rag.evals.datasets.realtimeqa import QuizClaim
from rag.evals.questions import Question
from rag.ingest.articles import Article

# ---- splits and sampling ------------------------------------------------------------------------------------------


def test_realtimeqa_split_by_week() -> None:
    assert [splits.by_week(w) for w in ("20220617", "20220826", "20220902", "20221111")] == [
        "dev", "dev", "test", "test"]


def test_id_split_is_a_fixed_hash() -> None:
    assert [splits.by_id(f"rgb-{i}") for i in range(6)] == ["dev", "dev", "dev", "dev", "test", "dev"]
    assert splits.by_id("quail-n141-1") == "test"


def _item(qid: str, split: str = "dev") -> Item:
    return Item(Question(qid, "?", (), False), (), split)


def test_sample_is_fixed_and_nested() -> None:
    items = [_item(f"q{i}") for i in range(20)]
    five, ten = sample(items, 5), sample(items, 10)
    assert [it.question.id for it in five] == [it.question.id for it in sample(items, 5)]
    assert set(map(id, five)) <= set(map(id, ten))
    assert [items.index(it) for it in ten] == sorted(items.index(it) for it in ten)  # original order kept
    assert sample(items, 0) == items and sample(items, 50) == items


# ---- synthetic public data ----------------------------------------------------------------------------------------

CNN_1 = "https://www.cnn.com/2022/06/12/media/squid/index.html"
WEB_QUESTIONS = [  # USA Today and The Week quiz questions: no gold article, only their search results
    {"question_id": f"20220617_{i}", "question_source": source, "question_sentence": question,
     "choices": [answer, "Other", "None", "All"], "answer": ["0"]}
    for i, source, question, answer in ((1, "USAtoday", "Which state held the vote?", "Ohio"),
                                        (2, "THE WEEK", "Which food won the prize?", "Maple syrup"),
                                        (3, "USAtoday", "Which lake froze over?", "Lake Erie"),
                                        (4, "THE WEEK", "Which dessert sold out?", "Ice cream"))]
WEB_RESULTS = [
    {"question_id": "20220617_1", "search_result": [
        {"url": "https://usat.example/ohio", "title": "Vote", "text": "Ohio held the vote near Lake Erie. " * 20}]},
    {"question_id": "20220617_2", "search_result": [
        {"url": "https://week.example/food", "title": "Food", "text": "A pancake recipe won the prize. " * 20}]},
    {"question_id": "20220617_3", "search_result": [
        {"url": "https://week.example/food", "title": "Food", "text": "A pancake recipe won the prize. " * 20}]},
    {"question_id": "20220617_4", "search_result": [
        {"url": "https://week.example/dessert", "title": "Dessert", "text": "The ice shop's cream sold out. " * 20}]},
]
CNN_2 = "https://www.cnn.com/2022/11/08/world/cop27/index.html"


def _jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def evaldata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "evaldata"
    rt = root / "realtimeqa-2022"
    _jsonl(rt / "20220617_qa.jsonl", [{"question_id": "20220617_0", "question_date": "2022/06/16",
                                       "question_sentence": "Which show did Netflix renew?",
                                       "choices": ["“Squid Game”", "Friends", "Lost", "Dark"], "answer": ["0"],
                                       "evidence": "Big week. Netflix said the hit show “<a href=\"x\">Squid Game</a>"
                                                   "” is coming back for a second season."},
                                      *WEB_QUESTIONS])
    _jsonl(rt / "20220617_gold.jsonl", [{"question_id": "20220617_0", "search_result": [
        {"url": CNN_1, "text": "Netflix renewed Squid Game for a second season. It was a hit around the world.",
         "publish_date": "2022/06/12"}]}])
    _jsonl(rt / "20220617_gcs.jsonl", [{"question_id": "20220617_0", "search_result": [
        {"url": "https://example.com/tv", "title": "TV news", "text": "Streaming shows return. " * 30},
        {"url": "https://example.com/short", "title": "Short", "text": "Too short to keep."}]}, *WEB_RESULTS])
    _jsonl(rt / "20221111_qa.jsonl", [{"question_id": "20221111_0", "question_date": "2022/11/10",
                                       "question_sentence": "Which country hosted the COP27 summit?",
                                       "choices": ["France", "Egypt", "Chile", "Japan"], "answer": ["1"],
                                       "evidence": "Egyptian food. Egypt hosted the COP27 climate summit."}])
    _jsonl(rt / "20221111_gold.jsonl", [{"question_id": "20221111_0", "search_result": [
        {"url": CNN_2, "text": "Egypt hosted the COP27 climate summit.", "publish_date": "2022/11/08"}]}])
    _jsonl(root / "rgb" / "en_fact.json", [
        {"id": 0, "query": "Who won the 2022 Nobel Prize in Literature?", "answer": ["Annie Ernaux"],
         "positive": ["Annie Ernaux won the 2022 Nobel Prize in Literature."],
         "negative": ["The Nobel Prize ceremony is held in Stockholm.", "Ernaux is a French writer."]},
        {"id": 4, "query": "Where was Super Bowl LVI played?", "answer": "SoFi Stadium",
         "positive": ["Super Bowl LVI was played at SoFi Stadium."], "negative": ["Super Bowl tickets sold out."]},
    ])
    monkeypatch.setenv("RAG_EVALDATA", str(root))
    monkeypatch.setattr(datasets, "THRESHOLDS", tmp_path / "evals")
    return root


def test_realtimeqa_web_labels_each_question_by_what_the_pages_say(evaldata: Path) -> None:
    qs = datasets.build("realtimeqa-web")
    assert [(q.id, q.answerable, q.answers, q.evidence, q.category) for q in qs.questions] == [
        ("realtimeqa-web-20220617_1", True, ("Ohio",), ("https://usat.example/ohio",), "USAtoday"),
        ("realtimeqa-web-20220617_2", False, (), (), "THE WEEK"),  # "Maple syrup" is on no page
    ]  # _3: "Lake Erie" only on _1's page, not its own; _4: "ice cream" only in other words ("ice ... cream")
    assert {a.url for a in qs.corpus} == {"https://usat.example/ohio", "https://week.example/food"}  # kept ones
    assert [q.id for q in datasets.build("realtimeqa-web", split="test").questions] == []


def test_realtimeqa_split_and_in_memory_corpus(evaldata: Path) -> None:
    dev = datasets.build("realtimeqa", split="dev")
    assert dev.name == "realtimeqa-dev" and dev.folder is None
    assert dev.questions == (Question("realtimeqa-20220617_0", "Which show did Netflix renew?", ("Squid Game",), True,
                                      (CNN_1,), category="realtimeqa"),)
    assert [(a.title, a.source, a.date) for a in dev.corpus] == [
        ("Netflix renewed Squid Game for a second season. It was a hit", "CNN", "2022-06-12"),  # 12 words
        ("TV news", "example.com", "")]
    assert dev.corpus[1].text == ("Streaming shows return. " * 30).strip()  # cleaned as ingestion cleans a record
    test = datasets.build("realtimeqa", split="test")
    assert [q.id for q in test.questions] == ["realtimeqa-20221111_0"] and test.questions[0].answers == ("Egypt",)
    assert [q.id for q in datasets.build("realtimeqa").questions] == ["realtimeqa-20220617_0", "realtimeqa-20221111_0"]
    assert not list(evaldata.parent.glob(".cache"))  # nothing written


def test_rgb_sets_split_by_id(evaldata: Path) -> None:
    assert [q.id for q in datasets.build("rgb", split="dev").questions] == ["rgb-0"]
    refusal = datasets.build("rgb-refusal", split="test")
    assert [(q.id, q.answerable) for q in refusal.questions] == [("rgb-4", False)]
    assert [a.text for a in refusal.corpus] == ["Super Bowl tickets sold out."]
    # a negative holding a key of the answer (its last long word) is dropped from the refusal corpus
    assert [a.text for a in datasets.build("rgb-refusal", split="dev").corpus] == [
        "The Nobel Prize ceremony is held in Stockholm."]


def test_thresholds_come_from_the_toml_per_split_and_limit(evaldata: Path) -> None:
    folder = datasets.THRESHOLDS
    folder.mkdir()
    (folder / "rgb.toml").write_text('[thresholds."1"]\naccuracy = 0.5\n[thresholds."dev-all"]\naccuracy = 0.7\n'
                                     '[thresholds."all"]\nfalse_refusal = 0.2\n')
    assert datasets.build("rgb", limit=1).thresholds == {"accuracy": 0.5}
    assert datasets.build("rgb", split="dev").thresholds == {"accuracy": 0.7}
    assert datasets.build("rgb").thresholds == {"false_refusal": 0.2}
    assert datasets.build("rgb", split="test").thresholds == {}
    assert datasets.build("rgb-refusal").thresholds == {}  # no toml file


def test_bad_name_split_or_limit(evaldata: Path) -> None:
    with pytest.raises(RagError, match="Unknown question set"):
        datasets.build("nope")
    with pytest.raises(RagError, match="--split must be one of all, dev, test"):
        datasets.build("rgb", split="train")
    with pytest.raises(RagError, match="--limit"):
        datasets.build("rgb", limit=-1)


def test_missing_data_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EVALDATA", str(tmp_path / "nowhere"))
    with pytest.raises(RagError, match="RAG_EVALDATA"):
        datasets.build("rgb")


def test_long_and_absent_sets_from_the_synthetic_data(evaldata: Path) -> None:
    got = datasets.build("long")
    assert [(q.id, q.question, q.answers, q.answerable, q.evidence, q.category) for q in got.questions] == [
        ("long-realtimeqa-20220617_0", "Going by the CNN article published on June 12, 2022 and the events it "
         "describes, which show did Netflix renew?", ("Squid Game",), True, (CNN_1,), "long"),
        ("long-realtimeqa-20221111_0", "According to CNN's report of November 8, 2022, which country hosted the "
         "COP27 summit?", ("Egypt",), True, (CNN_2,), "long")]
    assert [q.id for q in datasets.build("long", split="test").questions] == ["long-realtimeqa-20221111_0"]
    refused = datasets.build("absent")
    assert [(q.id, q.question, q.category) for q in refused.questions] == [
        ("absent-realtimeqa-20220617_0", "Which show did Drevania renew?", "absent-realtimeqa"),
        ("absent-realtimeqa-20221111_0", "Which country hosted the Elthorne summit?", "absent-realtimeqa"),
        ("absent-rgb-0", "Who won the 2022 Marundel Prize in Literature?", "absent-rgb"),
        ("absent-rgb-4", "Where was Ilsabet Brannagh played?", "absent-rgb")]
    assert all(not q.answerable and not q.answers and not q.evidence for q in refused.questions)
    corpus = " ".join(f"{a.title} {a.text}" for a in refused.corpus).casefold()
    assert not any(w in corpus for w in ("drevania", "elthorne", "marundel", "ilsabet", "brannagh"))
    assert [q.id for q in datasets.build("absent", split="test").questions] == [
        "absent-realtimeqa-20221111_0", "absent-rgb-4"]


# ---- absent: exact outputs ----------------------------------------------------------------------------------------


def _source(qid: str, question: str, evidence_text: str, answers: tuple[str, ...], split: str = "dev") -> Item:
    gold = Article(f"{qid}-gold", "", evidence_text, url=f"https://x/{qid}")
    other = Article(f"{qid}-other", "Markets", "Tesla shares fell on Monday.")
    return Item(Question(qid, question, answers, True, (gold.url,), category="realtimeqa"), (gold, other), split)


SOURCES = [
    _source("q1", "Which company did Elon Musk agree to buy this week?", "Elon Musk agreed to buy Twitter.",
            ("Twitter",)),
    _source("q2", "Rents rose in Texas. Which Ivy League school cut its fees?",
            "The rents in Texas went up. The Ivy League school Brown cut its fees.", ("Brown",), "test"),
    _source("q3", "What happened this week?", "Nothing much happened.", ("nothing",)),
    _source("q4", "Was President Joe Biden's plan approved?", "President Joe Biden's plan was approved.", ("yes",)),
]


def test_absent_builder_exact_outputs() -> None:
    got = absent.build(SOURCES, one_word=("Tesla", "Velmora"), two_word=("Tesla Quorn", "Halvar Ostrinsky"))
    # "Tesla" occurs in the corpus, so the only usable names are Velmora and Halvar Ostrinsky
    assert [(it.question.id, it.question.question, it.question.answerable, it.question.category, it.split)
            for it in got] == [
        ("absent-q1", "Which company did Halvar Ostrinsky agree to buy this week?", False, "absent-realtimeqa", "dev"),
        # "Rents" opens a sentence and the evidence writes "rents": not a name; "Ivy League" keeps its head
        ("absent-q2", "Rents rose in Texas. Which Velmora League school cut its fees?", False, "absent-realtimeqa",
         "test"),
        # q3 names nobody: left out. The title stays, the possessive too
        ("absent-q4", "Was President Halvar Ostrinsky's plan approved?", False, "absent-realtimeqa", "dev"),
    ]
    assert got[0].articles == SOURCES[0].articles and got[0].question.answers == () == got[0].question.evidence
    assert absent.build(SOURCES, one_word=("Velmora",), two_word=("Halvar Ostrinsky",)) == got  # deterministic


@pytest.mark.parametrize(("question", "evidence", "answers", "key"), [
    ("Who beat Spain in the World Cup final?", "Spain lost the World Cup final.", (), "World Cup"),  # longest
    ("Who beat Spain in the World Cup final?", "Spain lost the final.", (), "Spain"),  # only what the evidence has
    ("Which Ivy League school?", "The Ivy League school Brown.", ("Ivy League school Brown",), ""),  # in the answer
    ("NASA released images. What did they show?", "Images released by NASA showed a galaxy.", (), "NASA"),
    ("Who won the U.S. Open in June?", "She won the U.S. Open in June.", (), "U.S. Open"),  # months are not names
    ("Is Biden. The plan?", "Biden said the plan failed.", (), "Biden"),  # a run ends with its sentence
])
def test_key_name(question: str, evidence: str, answers: tuple[str, ...], key: str) -> None:
    assert absent.key_name(question, evidence, answers) == key


# ---- long: exact outputs ------------------------------------------------------------------------------------------


def test_lengthen_templates() -> None:
    q = "Which show did Netflix renew?"
    assert [long.lengthen(q, "CNN", "2022-06-12", t) for t in (0, 1, 2)] == [
        "According to CNN's report of June 12, 2022, which show did Netflix renew?",
        "Which show did Netflix renew, as CNN reported on June 12, 2022?",
        "Going by the CNN article published on June 12, 2022 and the events it describes, which show did Netflix "
        "renew?"]
    assert long.lengthen("Netflix renewed which show?", "CNN", "", 1) == (
        "According to CNN's report, Netflix renewed which show?")  # a name keeps its capital
    assert long.spoken_date("2022-11-08T10:00:00") == "November 8, 2022"
    assert long.spoken_date("June 2022") == "June 2022"


def test_long_builder_exact_outputs() -> None:
    got = long.build([SOURCES[0], Item(Question("q9", "Who?", ("x",), True, ("gone",)), (), "dev")])
    assert [(it.question.id, it.question.question, it.question.answers, it.question.evidence, it.split)
            for it in got] == []  # the sources name no outlet
    cnn = Article("g", "", "Elon Musk agreed to buy Twitter.", "2022-04-25", "CNN", "https://cnn/x")
    src = Item(Question("q1", "Which company did Elon Musk agree to buy?", ("Twitter",), True, ("https://cnn/x",)),
               (cnn,), "test")
    (item,) = long.build([src])
    assert item.question == Question("long-q1", "Going by the CNN article published on April 25, 2022 and the events "
                                     "it describes, which company did Elon Musk agree to buy?", ("Twitter",), True,
                                     ("https://cnn/x",), (), "long")
    assert item.articles == (cnn,) and item.split == "test"


def test_name_outlets_templates() -> None:
    q = "Which country won the cup?"
    assert [outlets.name_outlets(q, "USA Today", "CNN", t) for t in (0, 1, 2)] == [
        "Which country, reported by both USA Today and CNN, won the cup?",
        "According to both USA Today and CNN, which country won the cup?",
        "Which country won the cup, as reported by both USA Today and CNN?"]
    assert outlets.name_outlets("Who won the cup?", "CNN", "The Week", 0) == (
        "Who, according to both CNN and The Week, won the cup?")
    # no question word and noun to follow: template 1; a name keeps its capital
    assert outlets.name_outlets("What is the capital?", "CNN", "The Week", 0) == (
        "According to both CNN and The Week, what is the capital?")
    assert outlets.name_outlets("Ohio held which vote?", "CNN", "The Week", 0) == (
        "According to both CNN and The Week, Ohio held which vote?")
    assert outlets.name_outlets("Which well-known pizza chain left Italy?", "CNN", "The Week", 0) == (
        "According to both CNN and The Week, which well-known pizza chain left Italy?")  # the noun is not next
    assert outlets.name_outlets("Which country was chosen?", "CNN", "The Week", 0) == (
        "Which country, reported by both CNN and The Week, was chosen?")


def _page(url: str, text: str) -> Article:
    host = url.split("/")[2].removeprefix("www.")
    return Article(url, "", text, "", host, url)


def test_outlets_builder_names_two_outlets_that_state_the_answer_and_drops_them_for_refusal() -> None:
    usa, cnn, week = (_page("https://www.usatoday.com/a", "Ohio won the cup."),
                      _page("https://edition.cnn.com/b", "Ohio won the cup on Sunday."),
                      _page("https://theweek.com/c", "The cup final was on Sunday."))
    two = Item(Question("realtimeqa-web-q1", "Which state won the cup?", ("Ohio",), True, (usa.url, cnn.url)),
               (usa, cnn, week), "test")
    one = Item(Question("realtimeqa-web-q2", "Which state lost?", ("Utah",), True, (usa.url,)), (usa, week), "dev")
    gone = Item(Question("realtimeqa-web-q3", "Which state?", (), False, ()), (week,), "dev")
    (item,) = outlets.build([two, one, gone])  # only q1's answer is stated by two outlets
    q = item.question
    assert q.id == "outlets-q1" and q.answers == ("Ohio",) and q.evidence == (usa.url, cnn.url)
    assert q.category == "outlets" and item.articles == (usa, cnn, week) and item.split == "test"
    assert ("USA Today" in q.question and "CNN" in q.question and "both" in q.question
            and "usatoday" not in q.question)
    (refusal,) = outlets.build_refusal([two, one, gone])
    assert refusal.question.id == "outlets-refusal-q1" and not refusal.question.answerable
    assert refusal.question.question == q.question and refusal.articles == (week,)
    # a page left that still states the answer: not a refusal question
    also = _page("https://theweek.com/d", "Ohio won it.")
    assert outlets.build_refusal([Item(two.question, (usa, cnn, also), "test")]) == []


def test_polar_set_from_the_synthetic_data(evaldata: Path) -> None:
    got = datasets.build("polar")
    assert [(q.id, q.question, q.answers, q.evidence, q.category) for q in got.questions] == [
        ("polar-yes-20220617_0", "Did CNN's reporting say that Netflix said the hit show “Squid Game” is coming back "
         "for a second season?", ("Yes",), (CNN_1,), "polar-yes"),
        ("polar-no-20220617_0", "Did CNN's reporting say that Netflix said the hit show “Dark” is coming back for a "
         "second season?", ("No",), (CNN_1,), "polar-no"),
        # "Egyptian" is not the answer "Egypt": whole words only
        ("polar-yes-20221111_0", "Did CNN report that Egypt hosted the COP27 climate summit?", ("Yes",), (CNN_2,),
         "polar-yes"),
        ("polar-no-20221111_0", "Did CNN report that France hosted the COP27 climate summit?", ("No",), (CNN_2,),
         "polar-no")]
    assert all(q.answerable for q in got.questions)
    assert [q.id for q in datasets.build("polar", split="test").questions] == [
        "polar-yes-20221111_0", "polar-no-20221111_0"]  # the two are in different splits: no order question


def test_polar_order_questions_come_from_the_gold_dates() -> None:
    def src(qid: str, date: str) -> Item:
        gold = Article(f"{qid}-g", "", "Text.", date, "CNN", f"https://cnn/{qid}")
        return Item(Question(qid, "Which?", ("A",), True, (gold.url,)), (gold,), "dev")

    claims = {"q1": QuizClaim("Acme bought Beta.", "Acme", ("Zeta",)),
              "q2": QuizClaim("Gamma won the cup.", "Gamma", ("Delta",))}
    got = polar.build([src("q1", "2022-06-12"), src("q2", "2022-06-10")], claims)
    (order,) = [it.question for it in got if it.question.category == "polar-order"]
    assert order.id == "polar-order-q1-q2" and order.evidence == ("https://cnn/q1", "https://cnn/q2")
    word = "before" if "before" in order.question else "after"
    assert order.question == f"Did CNN report that Acme bought Beta {word} it reported that Gamma won the cup?"
    assert order.answers == (("No",) if word == "before" else ("Yes",))  # q1's report is the later one


# ---- the real data, when it is there ------------------------------------------------------------------------------


def test_real_data_split_sizes() -> None:
    try:
        datasets.evaldata_dir()
    except RagError:
        pytest.skip("no ../shared/evaldata")
    sizes = {name: tuple(len(datasets.sample_items(name, split=s)) for s in ("dev", "test"))
             for name in ("realtimeqa", "rgb", "quail")}
    assert sizes == {"realtimeqa": (98, 96), "rgb": (52, 48), "quail": (258, 282)}
    first, again = (datasets.build("absent", 40, "test") for _ in range(2))
    assert first == again and len(first.questions) == 40 and not any(q.answerable for q in first.questions)


def test_write_set_gives_a_folder_that_loads_back_the_same(evaldata: Path, tmp_path: Path) -> None:
    from rag.evals.questions import load_set
    from rag.ingest.pipeline import load_paths

    built = datasets.build("realtimeqa")
    folder = datasets.write_set(built, tmp_path / "out")
    back = load_set(folder)
    assert back.questions == built.questions and back.name == built.name and back.thresholds == built.thresholds
    assert load_paths([back.corpus])[0] == list(built.corpus)

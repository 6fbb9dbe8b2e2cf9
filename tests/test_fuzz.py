"""Property tests: hostile input never crashes the loaders, and every sentence of every article slices exactly."""

from __future__ import annotations

import json
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.ingest.articles import SUFFIXES, Article, Skipped, load_file, parse_text
from rag.ingest.sentences import split_sentences

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
BIDI = ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u061c"]
PIECES = ZERO_WIDTH + BIDI + [
    "שלום עולם. ", "مرحبا بالعالم. ", "Привет. ", "中文句子。", "\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b",
    "\x0c", "\x1c", "\t", " ", "\xa0", "\u3000", ". ", "? ", "! ", "...", "…", '"', "“", "”", "'", "(", ")", "U.S.",
    "Dr. ", "Jan. ", "3.5", "20%", "$1.9bn", "A", "The ", "He said. ", "<p>", "</p>", "<div>", "</div>", "<br>",
    "<script>", "</script>", "<style>", "<nav>", "</nav>", "<h1>", "</h1>", "<title>", "</title>", "&amp;", "&#0;",
    "&#x202e;", "<!--", "-->", "<![CDATA[", "{", "}", "[", "]", '"text": ', '"title": ', ",", "# ", "- ", "1. ",
    "Post a Comment", "Previous Post Next Post", "\x00", "\ud7ff", "\U0001f600", "e\u0301", "ﬁ",
]
text_st = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=40).map("".join)
suffix_st = st.sampled_from(SUFFIXES)


def check_article(art: Article) -> None:
    assert isinstance(art, Article)
    assert art.text and art.text == art.text.strip()
    assert "\n" not in art.title and "\r" not in art.text
    sents = split_sentences(art.id, art.text)
    covered: set[int] = set()
    prev_end = 0
    for n, s in enumerate(sents):
        assert s.n == n and s.id == f"{art.id}:{n}"
        assert art.text[s.start : s.end] == s.text
        assert 0 <= prev_end <= s.start < s.end <= len(art.text)
        assert s.text.strip(), repr(s.text)
        prev_end = s.end
        covered.update(range(s.start, s.end))
    # no word is lost: every letter or digit of the article is inside some sentence
    assert all(i in covered for i, ch in enumerate(art.text) if ch.isalnum())


def check_result(result: tuple[list[Article], list[Skipped]]) -> None:
    arts, skipped = result
    for art in arts:
        check_article(art)
    for s in skipped:
        assert isinstance(s, Skipped) and s.reason


@contextmanager
def time_limit(seconds: float):
    def boom(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


# ---- random text and bytes ----------------------------------------------------------------------------------------


@FUZZ
@given(raw=text_st, suffix=suffix_st)
def test_parse_text_random_text(raw: str, suffix: str) -> None:
    check_result(parse_text(raw, suffix, "fuzz" + suffix))


@FUZZ
@given(raw=text_st)
def test_split_sentences_random_raw_text(raw: str) -> None:
    prev_end = 0
    for s in split_sentences("x", raw):
        assert raw[s.start : s.end] == s.text and s.text.strip()
        assert prev_end <= s.start < s.end
        prev_end = s.end


@FUZZ
@given(data=st.one_of(st.binary(max_size=3000), text_st.map(lambda t: t.encode("utf-8", "surrogatepass"))),
       suffix=suffix_st)
def test_load_file_random_bytes(scratch: Path, data: bytes, suffix: str) -> None:
    path = scratch / f"fuzz{suffix}"
    path.write_bytes(data)
    arts, skipped = load_file(path)
    check_result((arts, skipped))
    if not data:
        assert skipped == [Skipped(str(path), "empty file")]


ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "shift_jis", "gb18030", "koi8-r",
             "mac_roman"]


@FUZZ
@given(parts=st.lists(st.tuples(text_st, st.sampled_from(ENCODINGS)), min_size=1, max_size=5), suffix=suffix_st)
def test_load_file_mixed_encodings(scratch: Path, parts: list[tuple[str, str]], suffix: str) -> None:
    data = b"".join(t.encode(enc, errors="replace") for t, enc in parts)
    path = scratch / f"mixed{suffix}"
    path.write_bytes(data)
    arts, skipped = load_file(path)
    check_result((arts, skipped))


record_text = st.one_of(text_st, st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
record_st = st.fixed_dictionaries(
    {"text": record_text},
    optional={"title": st.one_of(text_st, st.integers(), st.none()), "date": text_st, "source": text_st,
              "url": text_st, "id": st.one_of(text_st, st.integers())},
)


@FUZZ
@given(records=st.lists(record_st, max_size=5), suffix=st.sampled_from([".json", ".jsonl"]),
       ascii_only=st.booleans())
def test_json_records_random_fields(records: list[dict], suffix: str, ascii_only: bool) -> None:
    if suffix == ".json":
        raw = json.dumps(records, ensure_ascii=ascii_only)
    else:
        raw = "\n".join(json.dumps(r, ensure_ascii=ascii_only) for r in records)
    arts, skipped = parse_text(raw, suffix, "fuzz" + suffix)
    check_result((arts, skipped))
    assert len(arts) + len(skipped) == len(records)
    dropped = {int(s.path.rpartition("#")[2]) for s in skipped}
    kept = [r for n, r in enumerate(records, 1) if n not in dropped]
    for art, rec in zip(arts, kept, strict=True):  # metadata survives, as text; a blank value is no value
        given = (str(rec.get(k) or "") for k in ("date", "source", "url"))
        assert (art.date, art.source, art.url) == tuple(v if v.strip() else "" for v in given)


# ---- huge lines, deep nesting, invisible characters ---------------------------------------------------------------


def test_huge_line_without_punctuation(scratch: Path) -> None:
    path = scratch / "huge.txt"
    path.write_text("Title\n" + "word " * 400_000, encoding="utf-8")
    with time_limit(10):
        arts, skipped = load_file(path)
        assert skipped == [] and len(arts) == 1
        sents = split_sentences(arts[0].id, arts[0].text)
    assert len(sents) == 1 and sents[0].text == arts[0].text


def test_huge_single_paragraph_splits_in_linear_time() -> None:
    # 4,000 sentences (116 KB) on one line, as in a JSON record without newlines: this should take milliseconds.
    text = "The market rose again today. " * 4000
    with time_limit(3):
        sents = split_sentences("x", text)
    assert len(sents) == 4000
    assert sents[-1].text == "The market rose again today." and sents[-1].end == len(text) - 1


@pytest.mark.parametrize("depth", [5000])
def test_deeply_nested_html(depth: int) -> None:
    pages = [
        "<div>" * depth + "<p>Deep text here. Second sentence.</p>" + "</div>" * depth,
        "<div>" * depth + "Deep text here. Second sentence.",  # never closed
        "<span><b>" * depth + "Deep text here. Second sentence." + "</i>" * depth,  # mismatched closes
        "<nav>" * depth + "Menu link." + "</nav>" * depth + "<p>Deep text here. Second sentence.</p>",
    ]
    for page in pages:
        with time_limit(10):
            arts, skipped = parse_text(page, ".html", "deep.html")
        assert skipped == []
        check_article(arts[0])
        assert arts[0].text == "Deep text here. Second sentence."
        assert [s.text for s in split_sentences("x", arts[0].text)] == ["Deep text here.", "Second sentence."]


def test_zero_width_and_right_to_left_characters() -> None:
    raw = ("Title\u200b Here\n\u200bHello\u200c wor\u200dld.\u2060 \ufeffSecond one here.\n"
           "\u202eReversed text. \u200fשלום עולם. مرحبا بالعالم.\u202c\n\u2067Isolated.\u2069")
    arts, skipped = parse_text(raw, ".txt", "rtl.txt")
    assert skipped == []
    art = arts[0]
    check_article(art)
    assert art.title == "Title Here"
    assert not any(z in art.text for z in ZERO_WIDTH)
    assert art.text.startswith("Hello world. Second one here.\n")

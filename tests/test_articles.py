"""Loaders: every supported format, metadata kept, every kind of bad file skipped with a reason, boilerplate dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag.ingest.articles as articles_mod
from rag.errors import BadInput
from rag.ingest.articles import Article, Skipped, clean_text, iter_files, load_file, make_article, parse_text
from rag.ingest.pipeline import load_paths


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_one(path: Path) -> Article:
    arts, skipped = load_file(path)
    assert skipped == []
    assert len(arts) == 1
    return arts[0]


def load_skipped(path: Path) -> Skipped:
    arts, skipped = load_file(path)
    assert arts == []
    assert len(skipped) == 1
    assert skipped[0].path == str(path)
    return skipped[0]


# ---- formats ------------------------------------------------------------------------------------------------------
def test_txt_first_line_is_title(tmp_path: Path) -> None:
    art = load_one(write(tmp_path / "a.txt", "\n  Storm Hits Coast \nA storm hit the coast. Winds reached 120 mph.\n"))
    assert art.title == "Storm Hits Coast"
    assert art.text == "A storm hit the coast. Winds reached 120 mph."
    assert (art.date, art.source, art.url) == ("", "", "")


def test_txt_crlf_line_endings(tmp_path: Path) -> None:
    art = load_one(write(tmp_path / "a.txt", b"Storm Hits Coast\r\nA storm hit.\r\n\r\nWinds rose.\r\n"))
    assert art.title == "Storm Hits Coast"
    assert art.text == "A storm hit.\n\nWinds rose."


def test_txt_old_mac_cr_line_endings(tmp_path: Path) -> None:
    # clean_text normalises a lone "\r" as a line break, so the title line must be split off the same way.
    art = load_one(write(tmp_path / "a.txt", b"Storm Hits Coast\rA storm hit the coast.\rWinds rose.\r"))
    assert art.title == "Storm Hits Coast"
    assert art.text == "A storm hit the coast.\nWinds rose."


def test_txt_utf8_bom_and_whitespace_normalised(tmp_path: Path) -> None:
    raw = "\ufeffTitle Here\nA  storm\thit\u00a0the coast.\u200b\n\n\n\nWinds rose.".encode()
    art = load_one(write(tmp_path / "a.txt", raw))
    assert art.title == "Title Here"
    assert art.text == "A storm hit the coast.\n\nWinds rose."


@pytest.mark.parametrize(
    ("suffix", "raw"),
    [
        (".txt", "Storm\u200b Hits Coast\nStorm\u200b Hits Coast\nA storm hit the coast."),
        (".html", "<h1>Storm\u200b Hits Coast</h1><p>A storm hit the coast.</p>"),
        (".json", json.dumps({"title": "\ufeffStorm Hits Coast", "text": "Storm Hits Coast\nA storm hit the coast."})),
    ],
    ids=["txt-repeated-title", "html-h1", "json-bom"],
)
def test_zero_width_in_title_is_removed_and_repeated_title_dropped(suffix: str, raw: str) -> None:
    # clean_text strips zero-width characters from the text; the title must be cleaned the same way,
    # otherwise the repeated title line is no longer recognised and stays in the article body.
    arts, skipped = parse_text(raw, suffix, "a" + suffix)
    assert skipped == []
    assert arts[0].title == "Storm Hits Coast"
    assert arts[0].text == "A storm hit the coast."


def test_md_heading_is_title(tmp_path: Path) -> None:
    md = "# Markdown Title\n\nFirst para. Second **bold** para.\n\n## Section\n\n- item one\n- item two\n"
    art = load_one(write(tmp_path / "a.md", md))
    assert art.title == "Markdown Title"
    assert art.text == "First para. Second **bold** para.\n\n## Section\n\n- item one\n- item two"


PAGE = """<!doctype html>
<html><head><title>Storm hits coast | Daily News</title>
<style>body { color: red; } .ad { display:none }</style>
<script>var tracking = "secret tracker"; function f() { return 1; }</script>
</head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article>
<h1>Storm hits coast</h1>
<p>By Jane Doe</p>
<p>MIAMI (AP) &mdash; A storm hit the coast on Tuesday. Winds reached 120 mph.</p>
<p>Officials said 3,000 homes lost power &amp; schools closed.</p>
<ul><li>Shelters opened.</li><li>Roads closed.</li></ul>
</article>
<aside>Trending now: celebrity news</aside>
<footer>Copyright © 2024 Daily News. All rights reserved.</footer>
<noscript>Enable JavaScript</noscript>
</body></html>"""


def test_html_drops_scripts_styles_nav_and_takes_title_from_h1(tmp_path: Path) -> None:
    art = load_one(write(tmp_path / "page.html", PAGE))
    assert art.title == "Storm hits coast"
    assert art.text == ("By Jane Doe\n\nMIAMI (AP) — A storm hit the coast on Tuesday. Winds reached 120 mph.\n\n"
                        "Officials said 3,000 homes lost power & schools closed.\n\nShelters opened.\n\nRoads closed.")
    for junk in ("secret tracker", "color: red", "Home", "Trending", "Copyright", "JavaScript", "Daily News"):
        assert junk not in art.text


def test_htm_without_h1_takes_title_element(tmp_path: Path) -> None:
    page = ("<html><head><title>Only Title Here</title></head><body><p>Para one. Para two.</p>"
            "<p>Share this article</p></body></html>")
    art = load_one(write(tmp_path / "page.htm", page))
    assert art.title == "Only Title Here"
    assert art.text == "Para one. Para two."


def test_html_title_is_first_h1_not_glued_headings(tmp_path: Path) -> None:
    page = "<h1>Storm hits coast</h1><p>A storm hit the coast.</p><h1>Related coverage</h1><p>More storms.</p>"
    art = load_one(write(tmp_path / "page.html", page))
    assert art.title == "Storm hits coast"


RECORDS = [
    {"title": "Storm hits coast", "text": "A storm hit the coast. Winds reached 120 mph.", "date": "2024-06-01",
     "source": "AP", "url": "https://example.com/storm"},
    {"title": "Rates held", "text": "The Fed held rates. Markets rose.", "date": "2024-06-02",
     "source": "Reuters", "url": "https://example.com/fed"},
]


def test_json_list_keeps_metadata(tmp_path: Path) -> None:
    arts, skipped = load_file(write(tmp_path / "a.json", json.dumps(RECORDS)))
    assert skipped == []
    assert [(a.title, a.text, a.date, a.source, a.url) for a in arts] == [
        (r["title"], r["text"], r["date"], r["source"], r["url"]) for r in RECORDS]
    # ids come from the URL, so they are stable whatever the text
    assert arts[0].id == make_article("other", "other text", url="https://example.com/storm").id
    assert arts[0].id != arts[1].id


def test_json_single_object(tmp_path: Path) -> None:
    arts, skipped = load_file(write(tmp_path / "a.json", json.dumps(RECORDS[0])))
    assert skipped == [] and [a.title for a in arts] == ["Storm hits coast"]


def test_jsonl_keeps_metadata_and_skips_bad_lines(tmp_path: Path) -> None:
    lines = [json.dumps(RECORDS[0]), "", "{not json", json.dumps(RECORDS[1]), json.dumps([1, 2])]
    path = write(tmp_path / "a.jsonl", "\n".join(lines) + "\n")
    arts, skipped = load_file(path)
    assert [(a.title, a.date, a.source, a.url) for a in arts] == [
        (r["title"], r["date"], r["source"], r["url"]) for r in RECORDS]
    assert [s.path for s in skipped] == [f"{path}:3", f"{path}#3"]
    assert skipped[0].reason.startswith("invalid JSON")
    assert skipped[1].reason == "record is not a JSON object"


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_jsonl_lines_split_only_on_newline(tmp_path: Path, sep: str) -> None:
    # JSON Lines records are separated by "\n" only; json.dumps(..., ensure_ascii=False) writes these characters raw
    # inside strings, so they must not cut a record in two.
    rec = dict(RECORDS[0], text=f"A storm hit the coast.{sep}Winds reached 120 mph.")
    path = write(tmp_path / "a.jsonl", json.dumps(rec, ensure_ascii=False) + "\n" + json.dumps(RECORDS[1]) + "\n")
    arts, skipped = load_file(path)
    assert skipped == []
    assert [a.title for a in arts] == ["Storm hits coast", "Rates held"]


def test_json_record_without_text_is_skipped_with_reason(tmp_path: Path) -> None:
    recs = [{"title": "No text here", "url": "https://example.com/x"}, {"title": "Blank", "text": "   "},
            {"title": "Number", "text": 42}, RECORDS[0]]
    path = write(tmp_path / "a.json", json.dumps(recs))
    arts, skipped = load_file(path)
    assert [a.title for a in arts] == ["Storm hits coast"]
    assert [s.path for s in skipped] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    assert all('"text"' in s.reason for s in skipped)


def test_json_records_from_other_news_exports_are_read(tmp_path: Path) -> None:
    recs = [{"headline": "Storm hits coast", "content": "A storm hit the coast.", "publishedAt": "2026-03-02",
             "source": {"id": "cnn", "name": "CNN"}, "link": "https://example.com/storm", "id": 7},
            {"title": "Rates held", "maintext": ["The bank held rates.", "Markets rose."], "outlet": "Wire One"}]
    arts, skipped = load_file(write(tmp_path / "a.json", json.dumps(recs)))
    assert skipped == []
    assert [(a.title, a.text, a.date, a.source, a.url, a.id) for a in arts][0] == (
        "Storm hits coast", "A storm hit the coast.", "2026-03-02", "CNN", "https://example.com/storm", "7")
    assert (arts[1].text, arts[1].source) == ("The bank held rates.\n\nMarkets rose.", "Wire One")


def test_json_record_with_only_boilerplate_text_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", json.dumps([{"title": "T", "text": "Post a Comment\nPrevious Post Next Post"}]))
    assert load_file(path) == ([], [Skipped(f"{path}#1", "no article text after cleaning")])


def test_invalid_json_is_skipped(tmp_path: Path) -> None:
    s = load_skipped(write(tmp_path / "a.json", '[{"title": "x",'))
    assert s.reason.startswith("invalid JSON at line 1")


def test_json_text_with_escaped_lone_surrogate_does_not_crash(tmp_path: Path) -> None:
    # Valid JSON can carry a lone surrogate escape; the loader must not raise UnicodeEncodeError.
    path = write(tmp_path / "a.json", '[{"title": "Bad escape", "text": "Storm hit \\ud800 the coast. Winds rose."}]')
    arts, skipped = load_file(path)
    assert len(arts) + len(skipped) == 1
    for a in arts:
        a.text.encode("utf-8")  # whatever is kept must be storable as UTF-8
        a.title.encode("utf-8")
        assert a.content_hash


def test_deeply_nested_json_is_skipped_not_a_crash(tmp_path: Path) -> None:
    s = load_skipped(write(tmp_path / "a.json", "[" * 100_000 + "]" * 100_000))
    assert s.reason
    arts, skipped = load_file(write(tmp_path / "b.jsonl", '{"a":' * 50_000 + "1" + "}" * 50_000 + "\n"))
    assert arts == [] and len(skipped) == 1


# ---- bad files ----------------------------------------------------------------------------------------------------
def test_empty_file_is_skipped(tmp_path: Path) -> None:
    assert load_skipped(write(tmp_path / "a.txt", b"")).reason == "empty file"


def test_whitespace_only_file_is_skipped(tmp_path: Path) -> None:
    assert load_skipped(write(tmp_path / "a.txt", "\n  \n\t\n")).reason == "no article text after cleaning"


def test_title_only_file_is_skipped(tmp_path: Path) -> None:
    assert load_skipped(write(tmp_path / "a.txt", "Just a title\n")).reason == "no article text after cleaning"


def test_binary_file_is_skipped(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert load_skipped(write(tmp_path / "photo.txt", png)).reason == "binary file, not text"


def test_non_utf8_file_is_skipped(tmp_path: Path) -> None:
    s = load_skipped(write(tmp_path / "a.txt", "Café news\nLe café est fermé.".encode("latin-1")))
    assert s.reason == "not UTF-8 text (byte 3); re-save the file as UTF-8"


def test_file_over_size_limit_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(articles_mod, "MAX_FILE_BYTES", 1_000_000)
    path = write(tmp_path / "big.txt", "Title\n" + "A sentence here. " * 200_000)
    s = load_skipped(path)
    assert "limit is 1 MB" in s.reason and "file is 3 MB" in s.reason
    small = write(tmp_path / "small.txt", "Title\nA sentence here.")
    assert load_one(small).text == "A sentence here."


def test_unsupported_suffix_is_skipped(tmp_path: Path) -> None:
    s = load_skipped(write(tmp_path / "a.pdf", "%PDF-1.4"))
    assert s.reason.startswith("unsupported file type '.pdf'")


# ---- folders and paths --------------------------------------------------------------------------------------------
def test_missing_path_raises_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"No such file or folder: .*nope"):
        load_paths([tmp_path / "nope"])


def test_empty_folder_raises_bad_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / ".DS_Store").write_bytes(b"x")
    for folder in ("empty", "hidden"):
        with pytest.raises(BadInput, match=r"Folder .* is empty: put \.txt, \.md"):
            list(iter_files([tmp_path / folder]))


def test_folder_mixed_files(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Title A\nText A here.")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "b.md", "# Title B\nText B here.")
    write(tmp_path / "c.pdf", "%PDF")
    write(tmp_path / "d.txt", b"")
    arts, skipped = load_paths([tmp_path])
    assert sorted(a.title for a in arts) == ["Title A", "Title B"]
    assert sorted((Path(s.path).name, s.reason.split(";")[0]) for s in skipped) == [
        ("c.pdf", "unsupported file type '.pdf'"), ("d.txt", "empty file")]


# ---- cleaning and boilerplate -------------------------------------------------------------------------------------
def test_clean_text_drops_boilerplate_and_title_lines() -> None:
    raw = ("Storm Hits Coast\n\nA storm hit.\nAdvertisement\nShare this article\nRead more\n"
           "  storm   hits COAST \nWinds rose.\n\n\n\nPost a Comment\nPrevious Post Next Post\n© 2024 Daily News")
    # a dropped line becomes at most one paragraph break
    assert clean_text(raw, "Storm Hits Coast") == "A storm hit.\n\nWinds rose."


def test_seed_boilerplate_and_repeated_title_dropped(seed_file: Path) -> None:
    art = load_one(seed_file)
    assert art.title == "Zelensky Proposes New Meeting with Putin"
    assert "Post a Comment" not in art.text
    assert "Previous Post" not in art.text and "Next Post" not in art.text
    assert art.title not in art.text
    assert art.text.startswith("Renewed Calls for Peace Talks Amid Escalating Conflict\n\nUkrainian President")
    assert art.text.endswith("has devastated communities and disrupted lives.")


@pytest.mark.parametrize("query", ["Post a Comment", "Previous Post Next Post",
                                   "Zelensky Proposes New Meeting with Putin"])
def test_seed_boilerplate_never_returned_by_search(seed_library, query: str) -> None:
    hits = seed_library.search(query, k=50)
    assert hits
    for ev in hits:
        assert "Post a Comment" not in ev.sentence.text
        assert "Previous Post" not in ev.sentence.text and "Next Post" not in ev.sentence.text
        assert ev.sentence.text != ev.article.title


def test_make_article_ids() -> None:
    a = make_article("T", "Same text.")
    b = make_article("Other title", "Same text.")
    assert a.id == b.id  # no URL: id from the cleaned text
    assert make_article("T", "Same text.", url=" https://x.example/1 ").id == make_article(
        "T", "Different.", url="https://x.example/1").id
    assert make_article("", "Words " * 20).title == " ".join(["Words"] * 12)
    assert make_article("T", "x", id="custom").id == "custom"


def test_parse_text_title_only_html_skipped() -> None:
    arts, skipped = parse_text("<title>Only</title>", ".html", "p.html")
    assert arts == [] and skipped == [Skipped("p.html", "no article text after cleaning")]

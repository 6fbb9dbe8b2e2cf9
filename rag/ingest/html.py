"""Article text from an HTML page: scripts, styles, navigation and forms dropped, blocks kept as lines."""

from __future__ import annotations

from html.parser import HTMLParser


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg", "iframe", "button"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "article", "section", "tr", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.h1 = ""  # text of the first <h1> in the article body
        self.header_h1 = ""  # text of the first <h1> inside <header>, used when the body has none
        self._h1: list[str] | None = None  # text of the <h1> being read
        self._h1_in_header = False
        self._skip = 0
        self._header = 0
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h1":
            self.end_h1()
            self._h1, self._h1_in_header = [], self._skip > 0
        elif tag in self.BLOCK and self._h1 is not None:
            self._h1.append(" ")  # "<h1>Storm<br>hits coast</h1>" is "Storm hits coast"
        if tag in self.SKIP:
            self._skip += 1
            if tag == "header":
                self._header += 1
        if tag in self.BLOCK:
            self.parts.append("\n")
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self.end_h1()
        elif tag in self.BLOCK and self._h1 is not None:
            self._h1.append(" ")
        if tag in self.SKIP and self._skip:
            self._skip -= 1
            if tag == "header" and self._header:
                self._header -= 1
        if tag in self.BLOCK:
            self.parts.append("\n")
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1] == "title":
            self.title.append(data)
            return
        if self._skip == 0:
            self.parts.append(data)
        if self._h1 is not None and (self._skip == 0 or self._skip == self._header):  # in the body or in <header>
            self._h1.append(data)

    def end_h1(self) -> None:
        """Keep the first heading read in the body, and in <header>; later ones are only body text."""
        if self._h1 is None:
            return
        text = " ".join("".join(self._h1).split())
        if self._h1_in_header:
            self.header_h1 = self.header_h1 or text
        else:
            self.h1 = self.h1 or text
        self._h1 = None


def html_to_text(raw: str) -> tuple[str, str]:
    """Reduce an HTML page to (title, article text): scripts, styles and navigation dropped."""
    parser = _HTMLText()
    try:
        parser.feed(raw)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser can raise on pathological input; keep what was read
        pass
    parser.end_h1()  # an <h1> never closed
    title = parser.h1 or parser.header_h1 or " ".join("".join(parser.title).split())
    return title, "".join(parser.parts)

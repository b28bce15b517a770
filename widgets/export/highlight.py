"""A small Python syntax highlighter: keywords, builtins, strings (also triple-quoted), comments,
numbers, decorators and the names after ``def``/``class``."""

from __future__ import annotations

import keyword
import re

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat


def _format(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Bold)
    fmt.setFontItalic(italic)
    return fmt


STYLES = {
    "keyword": _format("#7c3aed", bold=True),
    "builtin": _format("#0369a1"),
    "self": _format("#be185d", italic=True),
    "number": _format("#b45309"),
    "string": _format("#15803d"),
    "comment": _format("#6b7280", italic=True),
    "decorator": _format("#a16207"),
    "defname": _format("#1d4ed8", bold=True),
}
BUILTINS = ("print", "len", "range", "int", "float", "str", "list", "dict", "tuple", "set", "open", "super",
            "isinstance", "enumerate", "zip", "min", "max", "sum", "sorted", "round", "getattr", "setattr")
TRIPLES = (('"""', 1), ("'''", 2))  # delimiter, block state while inside it


class PythonHighlighter(QSyntaxHighlighter):
    def __init__(self, document):
        super().__init__(document)
        words = r"\b(" + "|".join(keyword.kwlist + keyword.softkwlist) + r")\b"
        self.rules = [
            (re.compile(words), "keyword"),
            (re.compile(r"\b(" + "|".join(BUILTINS) + r")\b"), "builtin"),
            (re.compile(r"\bself\b"), "self"),
            (re.compile(r"\b\d+(\.\d*)?([eE][-+]?\d+)?\b"), "number"),
            (re.compile(r"^\s*@[\w.]+"), "decorator"),
            (re.compile(r"\b(?:def|class)\s+(\w+)"), "defname"),
        ]
        self.strings = re.compile(r"[rbfu]{0,2}(\"[^\"\\\n]*(\\.[^\"\\\n]*)*\"|'[^'\\\n]*(\\.[^'\\\n]*)*')")

    def highlightBlock(self, text: str) -> None:
        for pattern, style in self.rules:
            for m in pattern.finditer(text):
                group = 1 if style == "defname" else 0
                self.setFormat(m.start(group), m.end(group) - m.start(group), STYLES[style])
        protected = []  # string spans: a '#' inside them is not a comment
        for m in self.strings.finditer(text):
            self.setFormat(m.start(), m.end() - m.start(), STYLES["string"])
            protected.append((m.start(), m.end()))
        for pos, char in enumerate(text):
            if char == "#" and not any(a <= pos < b for a, b in protected):
                self.setFormat(pos, len(text) - pos, STYLES["comment"])
                break
        self.setCurrentBlockState(0)
        self._triple_quotes(text)

    def _triple_quotes(self, text: str) -> None:
        """Docstrings and other strings that span lines (block state = which delimiter is open)."""
        start, state = 0, self.previousBlockState()
        while True:
            if state in (1, 2):
                delim = TRIPLES[state - 1][0]
                end = text.find(delim, start)
                if end < 0:
                    self.setFormat(start, len(text) - start, STYLES["string"])
                    self.setCurrentBlockState(state)
                    return
                self.setFormat(start, end + 3 - start, STYLES["string"])
                start, state = end + 3, 0
            opened = [(text.find(d, start), s) for d, s in TRIPLES if text.find(d, start) >= 0]
            if not opened:
                return
            pos, state = min(opened)
            self.setFormat(pos, 3, STYLES["string"])
            start = pos + 3

"""Hog's tokens (reference §7.1): `//`, `--` and `/* */` comments; single-quoted strings with backslash
escapes; f-strings `f'...{expr}...'` (kept whole: the parser reads their expressions); numbers; identifiers
that may hold `$`, or be quoted with `"` or backticks; keywords, case-insensitive as in HogQL. Every token and
every error carries its line and column."""

import re
from typing import NamedTuple

MAX_SOURCE_CHARS = 1_000_000
MAX_NUMBER_CHARS = 1_000
KEYWORDS = frozenset({"let", "fun", "fn", "return", "if", "else", "while", "for", "in", "true", "false", "null",
                      "and", "or", "not", "like", "ilike", "is", "between", "try", "catch", "finally", "throw"})
# Longest first, so `=~*` is not read as `=~` then `*`.
OPERATORS = sorted(["?.[", "=~*", "!~*", "~*", "~", ":=", "==", "!=", "<>", "<=", ">=", "=~", "!~", "??", "?.",
                    "->", "||", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", "{", "}", ",", ".", ":",
                    ";", "?"],
                   key=len, reverse=True)
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "v": "\v", "a": "\a", "\\": "\\",
           "'": "'", '"': '"', "`": "`", "{": "{", "}": "}"}
# Per quote: a backslash escape, or the quote doubled.
ESCAPE = {quote: re.compile(r"\\(.?)|" + quote * 2, re.DOTALL) for quote in "'\"`"}
SPACE = r"(?:[ \t\r\n]+|//[^\n]*|--[^\n]*|/\*.*?\*/)*"
TRAILING_SPACE = re.compile(SPACE + r"\Z", re.DOTALL)
# A token and the space before it, in one match. The most frequent first; single-character operators as one
# class (alternatives are tried in turn).
TOKEN = re.compile(SPACE + "(?:" + "|".join([
    r"(?P<identifier>(?![fF]')[A-Za-z_$][A-Za-z0-9_$]*)",  # not the `f` of an f-string
    "(?P<operator>" + "|".join(re.escape(o) for o in OPERATORS if len(o) > 1)
    + "|[" + "".join(re.escape(o) for o in OPERATORS if len(o) == 1) + "])",
    # After `.`, digits are a 1-based index (`a.1.2`), never a float.
    r"(?P<number>(?<!\.)(?:\d+\.\d*|\d+)(?:[eE][+-]?\d+)?|\d+)",
    r"(?P<string>'(?:[^'\\]|\\.|'')*')",
    # Braces may hold quoted strings: `f'{upper('a')}'`.
    r"(?P<fstring>[fF]'(?:[^'\\{]|\\.|''|\{(?:\\.|[^'}\\]|'(?:[^'\\]|\\.)*')*\})*')",
    r'(?P<quoted>"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`)',
]) + ")", re.DOTALL)
INTEGER = re.compile(r"\d+")


class HogSyntaxError(Exception):
    """A compile error with where it is: `message (line L, column C)`."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message, self.line, self.column = message, line, column


class Token(NamedTuple):
    kind: str  # "number", "string", "fstring", "identifier", "keyword", "operator", "end"
    value: str | int | float
    line: int
    column: int
    op: str | None = None  # an operator's or keyword's text, for the parser's quick checks


class Lexer:
    def __init__(self, source: str) -> None:
        if len(source) > MAX_SOURCE_CHARS:
            raise HogSyntaxError(f"The program is longer than {MAX_SOURCE_CHARS} characters", 1, 1)
        self.source, self.line, self.line_start = source, 1, 0

    def _position(self, index: int) -> tuple[int, int]:
        return self.line, index - self.line_start + 1

    def _passed(self, start: int, text: str) -> None:
        """Keeps the line count as text spanning lines is read."""
        self.line += text.count("\n")
        self.line_start = start + text.rfind("\n") + 1

    def _unquoted(self, text: str, start: int) -> str:
        """The text between quotes, escapes decoded (a doubled quote is the quote itself); `\\{` kept raw, for
        f-strings."""
        def decode(match: re.Match[str]) -> str:
            escaped = match.group(1)
            if escaped is None:
                return match.group(0)[0]
            if escaped not in ESCAPES:
                line, column = self._position(start + 1 + match.start())
                raise HogSyntaxError(f"Unknown escape sequence \\{escaped}", line, column)
            return "\\" + escaped if escaped in "{}" else ESCAPES[escaped]
        return ESCAPE[text[0]].sub(decode, text[1:-1])

    def _refusal(self, index: int) -> HogSyntaxError:
        line, column = self._position(index)
        char = self.source[index]
        if char in "'\"`" or self.source.startswith(("f'", "F'"), index):
            return HogSyntaxError("Unterminated string", line, column)
        return HogSyntaxError(f"Unexpected character {char!r}", line, column)

    def tokens(self) -> list[Token]:
        source, index, found, match_at = self.source, 0, list[Token](), TOKEN.match
        while index < len(source):
            # Anchored at `index`: a search for the next match from a place that does not start one would make
            # hostile text quadratic.
            match = match_at(source, index)
            if match is None:
                if TRAILING_SPACE.match(source, index):
                    break
                raise self._refusal(self._after_space(index))
            kind = match.lastgroup or ""
            start, index = match.start(kind), match.end()
            if start != match.start() and "\n" in source[match.start():start]:
                self._passed(match.start(), source[match.start():start])
            text = match.group(kind)
            if kind == "identifier" or kind == "operator":
                column = start - self.line_start + 1
                if text == "/" and source.startswith("/*", start):
                    raise HogSyntaxError("Unterminated comment", self.line, column)
                word = text.lower()
                if kind == "operator" or word in KEYWORDS:
                    found.append(Token(kind if kind == "operator" else "keyword", word, self.line, column, word))
                else:
                    found.append(Token(kind, text, self.line, column))
                continue
            found.append(self._token(kind, text, start))
            if "\n" in text:
                self._passed(start, text)
        if index < len(source):
            if "\n" in source[index:]:
                self._passed(index, source[index:])
            index = len(source)
        found.append(Token("end", "", *self._position(index)))
        return found

    def _after_space(self, index: int) -> int:
        """Where the text that is not a token starts, past any space and comments (kept in the line count)."""
        space = re.compile(SPACE, re.DOTALL).match(self.source, index)
        end = space.end() if space else index
        if "\n" in self.source[index:end]:
            self._passed(index, self.source[index:end])
        if self.source.startswith("/*", end):
            raise HogSyntaxError("Unterminated comment", *self._position(end))
        return end

    def _token(self, kind: str, text: str, index: int) -> Token:
        line, column = self._position(index)
        if kind == "number":
            if len(text) > MAX_NUMBER_CHARS:
                raise HogSyntaxError(f"A number longer than {MAX_NUMBER_CHARS} characters", line, column)
            return Token(kind, int(text) if text.isdigit() else float(text), line, column)
        if kind == "identifier":
            word = text.lower()
            return Token("keyword", word, line, column, word) if word in KEYWORDS else Token(kind, text, line, column)
        if kind == "string":
            return Token(kind, self._unquoted(text, index).replace("\\{", "{").replace("\\}", "}"), line, column)
        if kind == "fstring":
            return Token(kind, self._unquoted(text[1:], index + 1), line, column)
        if kind == "quoted":
            return Token("identifier", self._unquoted(text, index), line, column)
        return Token(kind, text, line, column, text)


def tokenize(source: str) -> list[Token]:
    return Lexer(source).tokens()

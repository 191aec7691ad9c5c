"""Hog's tokens (reference §7.1): `//`, `--` and `/* */` comments; single-quoted strings with backslash
escapes; f-strings `f'...{expr}...'` (kept whole: the parser reads their expressions); numbers; identifiers
that may hold `$`, or be quoted with `"` or backticks; keywords, case-insensitive as in HogQL. Every token and
every error carries its line and column."""

import re
from dataclasses import dataclass

MAX_SOURCE_CHARS = 1_000_000
KEYWORDS = frozenset({"let", "fun", "fn", "return", "if", "else", "while", "for", "in", "true", "false", "null",
                      "and", "or", "not", "like", "ilike", "is", "between", "try", "catch", "finally", "throw"})
# Longest first, so `=~*` is not read as `=~` then `*`.
OPERATORS = sorted(["?.[", "=~*", "!~*", ":=", "==", "!=", "<>", "<=", ">=", "=~", "!~", "??", "?.", "->", "||",
                    "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", "{", "}", ",", ".", ":", ";", "?"],
                   key=len, reverse=True)
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "v": "\v", "a": "\a", "\\": "\\",
           "'": "'", '"': '"', "`": "`", "{": "{", "}": "}"}
NUMBER = re.compile(r"(\d+\.\d*|\d+)([eE][+-]?\d+)?")
INTEGER = re.compile(r"\d+")
IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class HogSyntaxError(Exception):
    """A compile error with where it is: `message (line L, column C)`."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message, self.line, self.column = message, line, column


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "string", "fstring", "identifier", "keyword", "operator", "end"
    value: str | int | float
    line: int
    column: int


class Lexer:
    def __init__(self, source: str) -> None:
        if len(source) > MAX_SOURCE_CHARS:
            raise HogSyntaxError(f"The program is longer than {MAX_SOURCE_CHARS} characters", 1, 1)
        self.source, self.index, self.line, self.line_start = source, 0, 1, 0

    def _column(self, index: int | None = None) -> int:
        return (self.index if index is None else index) - self.line_start + 1

    def _error(self, message: str) -> HogSyntaxError:
        return HogSyntaxError(message, self.line, self._column())

    def _advance(self, count: int) -> None:
        for char in self.source[self.index:self.index + count]:
            self.index += 1
            if char == "\n":
                self.line, self.line_start = self.line + 1, self.index

    def _skip_space_and_comments(self) -> None:
        source = self.source
        while self.index < len(source):
            char = source[self.index]
            if char in " \t\r\n":
                self._advance(1)
            elif source.startswith(("//", "--"), self.index):
                end = source.find("\n", self.index)
                self._advance((len(source) if end < 0 else end) - self.index)
            elif source.startswith("/*", self.index):
                end = source.find("*/", self.index + 2)
                if end < 0:
                    raise self._error("Unterminated comment")
                self._advance(end + 2 - self.index)
            else:
                return

    def _quoted(self, quote: str) -> str:
        """The text between quotes, escapes decoded (a doubled quote is the quote itself); `{` kept raw."""
        start_line, start_column = self.line, self._column()
        self._advance(1)
        parts: list[str] = []
        while True:
            if self.index >= len(self.source):
                raise HogSyntaxError("Unterminated string", start_line, start_column)
            char = self.source[self.index]
            if char == "\\":
                escaped = self.source[self.index + 1:self.index + 2]
                if escaped not in ESCAPES:
                    raise self._error(f"Unknown escape sequence \\{escaped}")
                parts.append("\\" + escaped if escaped in "{}" else ESCAPES[escaped])
                self._advance(2)
            elif char == quote:
                if self.source.startswith(quote * 2, self.index):
                    parts.append(quote)
                    self._advance(2)
                else:
                    self._advance(1)
                    return "".join(parts)
            else:
                parts.append(char)
                self._advance(1)

    def _next(self, after_dot: bool = False) -> Token:
        self._skip_space_and_comments()
        line, column = self.line, self._column()
        source, index = self.source, self.index
        if index >= len(source):
            return Token("end", "", line, column)
        char = source[index]
        if char in "fF" and source.startswith("'", index + 1):
            self._advance(1)
            return Token("fstring", self._quoted("'"), line, column)
        if char == "'":
            return Token("string", self._quoted("'").replace("\\{", "{").replace("\\}", "}"), line, column)
        if char in "\"`":
            return Token("identifier", self._quoted(char), line, column)
        # After `.`, digits are a 1-based index (`a.1.2`), never a float.
        if number := (INTEGER if after_dot else NUMBER).match(source, index):
            self._advance(number.end() - index)
            text = number.group(0)
            value: int | float = int(text) if text.isdigit() else float(text)
            return Token("number", value, line, column)
        if identifier := IDENTIFIER.match(source, index):
            self._advance(identifier.end() - index)
            word = identifier.group(0)
            if word.lower() in KEYWORDS:
                return Token("keyword", word.lower(), line, column)
            return Token("identifier", word, line, column)
        for operator in OPERATORS:
            if source.startswith(operator, index):
                self._advance(len(operator))
                return Token("operator", operator, line, column)
        raise self._error(f"Unexpected character {char!r}")

    def tokens(self) -> list[Token]:
        found = [self._next()]
        while found[-1].kind != "end":
            found.append(self._next(after_dot=found[-1].value in (".", "?.")))
        return found


def tokenize(source: str) -> list[Token]:
    return Lexer(source).tokens()

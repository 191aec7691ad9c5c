"""Hog's lexical rules (reference §7.1), with line and column on every token and error."""

import pytest

from amigo_api.hog.lexer import HogSyntaxError, tokenize


def _values(source: str) -> list[object]:
    return [(t.kind, t.value) for t in tokenize(source)[:-1]]


@pytest.mark.parametrize(("source", "expected"), [
    ("let x := 1", [("keyword", "let"), ("identifier", "x"), ("operator", ":="), ("number", 1)]),
    ("'it''s'", [("string", "it's")]),
    (r"'a\nb\\c\'d'", [("string", "a\nb\\c'd")]),
    ("1.5 2e3 10", [("number", 1.5), ("number", 2000.0), ("number", 10)]),
    ("properties.$ai_model", [("identifier", "properties"), ("operator", "."), ("identifier", "$ai_model")]),
    ("a.1.2", [("identifier", "a"), ("operator", "."), ("number", 1), ("operator", "."), ("number", 2)]),
    ('"quoted name" `other`', [("identifier", "quoted name"), ("identifier", "other")]),
    ("x =~* 'a' !~ 'b' ?? c?.d", [("identifier", "x"), ("operator", "=~*"), ("string", "a"), ("operator", "!~"),
                                  ("string", "b"), ("operator", "??"), ("identifier", "c"), ("operator", "?."),
                                  ("identifier", "d")]),
    ("AND Or NOT Like", [("keyword", "and"), ("keyword", "or"), ("keyword", "not"), ("keyword", "like")]),
    ("a // one\n-- two\n/* three\n four */ b", [("identifier", "a"), ("identifier", "b")]),
    ("f'hi {name}!'", [("fstring", "hi {name}!")]),
    ("x -> x || 'y'", [("identifier", "x"), ("operator", "->"), ("identifier", "x"), ("operator", "||"),
                       ("string", "y")]),
])
def test_tokens(source: str, expected: list[object]) -> None:
    assert _values(source) == expected


def test_positions() -> None:
    tokens = tokenize("let a := 1\n  return a")
    assert [(t.value, t.line, t.column) for t in tokens[4:6]] == [("return", 2, 3), ("a", 2, 10)]


@pytest.mark.parametrize(("source", "message", "line", "column"), [
    ("'open", "Unterminated string", 1, 1),
    ("let x := 1\n  /* never closed", "Unterminated comment", 2, 3),
    ("a # b", "Unexpected character '#'", 1, 3),
    (r"'\q'", "Unknown escape sequence \\q", 1, 2),
    ("abc'", "Unterminated string", 1, 4),
    ("x := " + "9" * 5000, "A number longer than 1000 characters", 1, 6),
    ("'" + "\\'" * 100_000, "Unterminated string", 1, 1),  # read once, not searched again from every place
    ("f'{'a' " + "{'x'" * 1000, "Unterminated string", 1, 1),
])
def test_errors_say_where(source: str, message: str, line: int, column: int) -> None:
    with pytest.raises(HogSyntaxError) as error:
        tokenize(source)
    assert (error.value.message, error.value.line, error.value.column) == (message, line, column)
    assert f"(line {line}, column {column})" in str(error.value)

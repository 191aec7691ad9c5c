"""Hog's grammar (reference §7.2, §7.3) into the syntax tree, and its compile errors with line and column."""

import pytest

from amigo_api.hog import ast as a
from amigo_api.hog.lexer import HogSyntaxError
from amigo_api.hog.parser import MAX_DEPTH, parse


def _expression(source: str) -> a.Node:
    [statement] = parse(source).statements
    assert isinstance(statement, a.ExpressionStatement)
    return statement.expression


def _shape(node: object) -> object:
    """A compact form of a tree: node names and fields, positions left out."""
    if isinstance(node, a.Node):
        fields = {k: _shape(v) for k, v in vars(node).items() if k not in ("line", "column")}
        return (type(node).__name__, *fields.values())
    if isinstance(node, list | tuple):
        return [_shape(item) for item in node]
    return node


@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2 * 3", ("Binary", "+", ("Constant", 1), ("Binary", "*", ("Constant", 2), ("Constant", 3)))),
    ("(1 + 2) * 3", ("Binary", "*", ("Binary", "+", ("Constant", 1), ("Constant", 2)), ("Constant", 3))),
    ("a || b || c", ("Binary", "||", ("Binary", "||", ("Name", "a"), ("Name", "b")), ("Name", "c"))),
    ("not a = 1 and b", ("Binary", "and", ("Unary", "not", ("Binary", "==", ("Name", "a"), ("Constant", 1))),
                         ("Name", "b"))),
    ("x ?? y or z", ("Binary", "??", ("Name", "x"), ("Binary", "or", ("Name", "y"), ("Name", "z")))),
    ("a not like '%x%'", ("Binary", "not like", ("Name", "a"), ("Constant", "%x%"))),
    ("a not in [1, 2]", ("Binary", "not in", ("Name", "a"), ("ArrayLiteral", [("Constant", 1), ("Constant", 2)]))),
    ("a is not null", ("IsNull", ("Name", "a"), True)),
    ("a between 1 and 5 and b", ("Binary", "and", ("Between", ("Name", "a"), ("Constant", 1), ("Constant", 5),
                                                   False), ("Name", "b"))),
    ("c ? 1 : 2", ("Ternary", ("Name", "c"), ("Constant", 1), ("Constant", 2))),
    ("a?.b.1[2]", ("Index", ("Attribute", ("Attribute", ("Name", "a"), "b", True), 1, False), ("Constant", 2),
                   False)),
    ("x -> x * 2", ("Lambda", ["x"], ("Binary", "*", ("Name", "x"), ("Constant", 2)))),
    ("(a, b) -> a + b", ("Lambda", ["a", "b"], ("Binary", "+", ("Name", "a"), ("Name", "b")))),
    ("(1, 2)", ("TupleLiteral", [("Constant", 1), ("Constant", 2)])),
    ("(1,)", ("TupleLiteral", [("Constant", 1)])),
    ("({'k': [1], 'j': null})", ("DictLiteral", [[("Constant", "k"), ("ArrayLiteral", [("Constant", 1)])],
                                               [("Constant", "j"), ("Constant", None)]])),
    ("f'hi {name}!'", ("FString", [("Constant", "hi "), ("Name", "name"), ("Constant", "!")])),
    ("arrayMap(x -> x, [1])", ("Call", ("Name", "arrayMap"), [("Lambda", ["x"], ("Name", "x")),
                                                                ("ArrayLiteral", [("Constant", 1)])])),
    ("-2 =~* 'a'", ("Binary", "=~*", ("Unary", "-", ("Constant", 2)), ("Constant", "a"))),
])
def test_expressions(source: str, expected: object) -> None:
    assert _shape(_expression(source)) == expected


def test_statements() -> None:
    program = parse("""
        let total := 0
        fun add(a, b) { return a + b }
        for (let i := 1; i <= 3; i := i + 1) { total := add(total, i) }
        for (let k, v in {'a': 1}) { print(k, v) }
        for (let v in [1, 2]) print(v)
        while (total > 100) total := total - 1
        if (total = 6) { return true } else return false
        try { throw Error('x') } catch (e: RetryError) { return e } catch { return null }
        obj.key := 1; arr[2] := 3
    """)
    kinds = [type(s).__name__ for s in program.statements]
    assert kinds == ["Let", "Function", "For", "ForIn", "ForIn", "While", "If", "Try", "Assign", "Assign"]
    for_in = program.statements[3]
    assert isinstance(for_in, a.ForIn) and (for_in.key, for_in.value) == ("k", "v")
    caught = program.statements[7]
    assert isinstance(caught, a.Try) and [(c.name, c.error_type) for c in caught.catches] == [
        ("e", "RetryError"), (None, None)]


@pytest.mark.parametrize(("source", "message", "line", "column"), [
    ("return arr[0]", "Array access starts from 1", 1, 12),
    ("let x := a.0", "Array access starts from 1", 1, 12),
    ("try { } finally { }", "'finally' is not supported", 1, 9),
    ("try { return 1 }", "'try' needs at least one 'catch'", 1, 1),
    ("1 + := 2", "Unexpected ':='", 1, 5),
    ("f(1) := 2", "Only a variable, a field or an index can be assigned", 1, 1),
    ("if (x {", "Expected ')', found '{'", 1, 7),
    ("let x := (1 + 2", "Expected ')', found the end of the program", 1, 16),
    ("{ let a := 1", "Expected '}', found the end of the program", 1, 13),
])
def test_compile_errors_say_where(source: str, message: str, line: int, column: int) -> None:
    with pytest.raises(HogSyntaxError) as error:
        parse(source)
    assert (error.value.message, error.value.line, error.value.column) == (message, line, column)


def test_hostile_nesting_is_refused_not_a_crash() -> None:
    for source in ("(" * 10_000 + "1" + ")" * 10_000, "[" * 10_000, "{" * 10_000, "not " * 10_000 + "1",
                   "- " * 10_000 + "1", "if (1) " * 5_000 + "1"):  # ("--" would be a comment)
        with pytest.raises((HogSyntaxError, RecursionError)) as error:
            parse(source)
        assert error.type is HogSyntaxError, source[:20]
        assert f"deeper than {MAX_DEPTH}" in str(error.value)

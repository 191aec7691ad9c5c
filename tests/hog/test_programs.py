"""Hog programs with their expected return value, printed output or error (the start of the conformance
table: statements, operators, comparison rules, the standard library so far, and limits)."""

from typing import Any

import pytest

from amigo_api.hog.engine import run
from amigo_api.hog.runtime import Limits

RETURNS: list[tuple[str, Any]] = [
    ("return 1 + 2 * 3", 7),
    ("return 7 / 2", 3.5),
    ("return 7 % 3", 1),
    ("return -(2 + 3)", -5),
    ("return 'a' || null || 'b'", "ab"),
    ("return 1 = 1.0", True),
    ("return 1 == '1'", True),
    ("return true = 'true'", True),
    ("return true = 1", True),
    ("return null = null", True),
    ("return 1 = null", False),
    ("return 2 < '10'", True),
    ("return null < 1", False),
    ("return 'banana' like 'n'", True),
    ("return 'Banana' ilike 'b%A'", True),
    ("return 'banana' not like 'x%'", True),
    ("return 'abc' =~ 'b.'", True),
    ("return 'ABC' =~* 'b'", True),
    ("return null =~ 'a'", False),
    ("return 2 in [1, 2]", True),
    ("return 'k' in {'k': 1}", True),
    ("return 'ell' in 'hello'", True),
    ("return 3 not in (1, 2)", True),
    ("return 5 between 1 and 5", True),
    ("return 6 not between 1 and 5", True),
    ("return null is null and 1 is not null", True),
    ("return null ?? 'fallback'", "fallback"),
    ("return 0 ?? 'fallback'", 0),
    ("return 1 > 2 ? 'yes' : 'no'", "no"),
    ("return [] or 0", False),
    ("return 'x' and 1", True),
    ("return not ''", True),
    ("let a := [1, 2, 3]; return a[1] + a[-1]", 4),
    ("let a := [1, 2, 3]; return a[10]", None),
    ("let d := {'k': {'n': 5}}; return d.k.n + d['k']['n']", 10),
    ("let d := {}; return d?.x?.y", None),
    ("let t := (1, 2); return t.2", 2),
    ("let x := 1; x := x + 1; return x", 2),
    ("let a := [1, 2]; a[2] := 5; return a", [1, 5]),
    ("let d := {}; d.key := 'v'; return d", {"key": "v"}),
    ("let x; return x", None),
    ("let total := 0; for (let i := 1; i <= 4; i := i + 1) { total := total + i }; return total", 10),
    ("let s := ''; for (let v in ['a', 'b']) { s := s || v }; return s", "ab"),
    ("let s := ''; for (let k, v in {'a': 1, 'b': 2}) { s := s || k || toString(v) }; return s", "a1b2"),
    ("let i := 0; while (i < 5) i := i + 1; return i", 5),
    ("fun add(a, b) { return a + b }; return add(2, 3)", 5),
    ("fun nothing() { let x := 1 }; return nothing()", None),
    ("fun f(a, b) { return b }; return f(1)", None),
    ("let k := 10; let add := x -> x + k; return add(5)", 15),
    ("let f := (a, b) -> { return a * b }; return f(3, 4)", 12),
    ("fun counter() { let n := 0; return () -> { n := n + 1; return n } }\n"
     "let c := counter(); c(); return c()", 2),
    ("fun fib(n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2) }; return fib(15)", 610),
    ("return f'{1 + 1} and {null} and {\\'x\\'}'", "2 and  and x"),
    ("try { throw Error('bad') } catch (e) { return e.message }", "bad"),
    ("try { throw HogError('RetryError', 'again') } catch (e: RetryError) { return e.type } catch { return 'x' }",
     "RetryError"),
    ("try { throw Error('x') } catch (e: RetryError) { return 1 } catch (e) { return 2 }", 2),
    ("try { let x := 1 / 0 } catch (e) { return 'caught' }", "caught"),
    ("return typeof(1) || typeof(1.5) || typeof('') || typeof(null) || typeof([]) || typeof({}) || typeof((1, 2))",
     "integerfloatstringnullarrayobjecttuple"),
    ("return typeof(x -> x)", "function"),
    ("return length('abc') + length([1]) + length(null)", 4),
    ("return lower('AbC') || upper('x') || trim('  y  ')", "abcXy"),
    ("return position('hello', 'l')", 3),
    ("return substring('hello', 2, 3)", "ell"),
    ("return splitByString(',', 'a,b,c')", ["a", "b", "c"]),
    ("return replaceAll('aaa', 'a', 'b')", "bbb"),
    ("return empty('') and empty([]) and empty({}) and empty(null) and not empty(0) and not empty(false)", True),
    ("return ifNull(null, 3) + coalesce(null, null, 4)", 7),
    ("return arrayMap(x -> x * 2, [1, 2])", [2, 4]),
    ("return arrayFilter(x -> x > 1, [1, 2, 3])", [2, 3]),
    ("return arrayExists(x -> x = 2, [1, 2])", True),
    ("return arrayCount(x -> x > 1, [1, 2, 3])", 2),
    ("return arrayReduce((acc, x) -> acc + x, [1, 2, 3], 10)", 16),
    ("return arrayMap(x -> x, null)", []),
    ("let a := [3, 1]; let b := arraySort(a); return (a, b)", ([3, 1], [1, 3])),
    ("return arrayPushBack([1], 2) || ''", "[1, 2]"),
    ("return range(3)", [0, 1, 2]),
    ("return keys({'a': 1}) || values({'a': 1})", "['a'][1]"),
    ("return has([1, 2], 2) and indexOf([5, 6], 6) = 2", True),
    ("return jsonParse('{\"status\": \"ok\"}').status", "ok"),
    ("return jsonStringify({'a': [1, true, null]})", '{"a": [1, true, null]}'),
    ("return isValidJSON('{') or isValidJSON('[]')", True),
    ("return toInt('42') + toFloat('0.5')", 42.5),
    ("return round(2.567, 2)", 2.57),
    ("return tuple(1)", (1,)),
]


@pytest.mark.parametrize(("source", "expected"), RETURNS)
def test_returns(source: str, expected: Any) -> None:
    result = run(source)
    assert result.error is None, result.error
    assert result.value == expected and type(result.value) is type(expected)


def test_print_formats_top_level_strings_raw_and_nested_ones_quoted() -> None:
    result = run("print('hi', 1, null, true, ['a', {'k': 'v'}], (1,), 1.5); print()")
    assert result.output == ["hi 1 null true ['a', {'k': 'v'}] tuple(1) 1.5", ""]


@pytest.mark.parametrize(("source", "error"), [
    ("let a := 1; let a := 2", "Syntax error: Variable `a` already declared in this scope (line 1, column 13)"),
    ("x := 1", "Syntax error: Variable `x` is not declared: use `let x := ...` (line 1, column 1)"),
    ("return a[0]", "Syntax error: Array access starts from 1 (line 1, column 10)"),
    ("return nope(1)", "Runtime error: Unsupported function call: nope"),
    ("return fetch('https://example.com')", "Runtime error: Unsupported function call: fetch"),
    ("return postHogCapture({})", "Runtime error: Unsupported function call: postHogCapture"),
    ("throw Error('boom')", "Runtime error: Error('boom')"),
    ("return nobody", "Runtime error: Global variable not found: nobody"),
    ("return 1 / 0", "Runtime error: Division by zero"),
    ("return 'a' - 1", "Runtime error: Cannot apply - to str and int"),
    ("try { return jsonParse('{') } catch { return 1 }",
     "Unexpected error during evaluation: JSONDecodeError: Expecting property name enclosed in double quotes: "
     "line 1 column 2 (char 1)"),
    ("return 'aa' =~ '(a)\\\\1'", "Runtime error: Invalid regular expression: invalid escape sequence: \\1"),
    ("return 'ab' =~ 'a(?=b)'", "Runtime error: Invalid regular expression: invalid perl operator: (?="),
])
def test_errors(source: str, error: str) -> None:
    assert run(source).error == error


@pytest.mark.parametrize(("source", "error"), [
    ("while (true) { }", "Execution timed out (0.2s limit exceeded)"),
    ("fun f(n) { return f(n + 1) }; return f(0)", "Runtime error: Maximum call stack depth (128) exceeded"),
    ("let s := 'x'; while (true) { s := s || s }", "Memory limit exceeded"),
    ("let a := []; while (true) { a := arrayPushBack(a, a) }", "Memory limit exceeded"),
    ("return range(100000000)", "Runtime error: range() is too large"),
    ("let f := null; f := n -> f(n + 1); return f(1)",
     "Runtime error: Maximum call stack depth (128) exceeded"),
    ("let s := 'xx'; while (true) { s := f'{s}{s}' }", "Memory limit exceeded"),
    # 16,384 times a 16,384-character string: refused before it is built.
    ("let s := 'x'; let i := 0; while (i < 14) { s := s || s; i := i + 1 }; return replaceAll(s, 'x', s)",
     "Memory limit exceeded"),
    ("let s := 'x'; let i := 0; while (i < 14) { s := s || s; i := i + 1 }; "
     "return arrayStringConcat(arrayMap(x -> s, range(10000)), s)", "Memory limit exceeded"),
    ("let d := {}; let i := 0; while (true) { d[i] := i; i := i + 1 }", "Memory limit exceeded"),
    ("let all := []; while (true) { all := arrayPushBack(all, arrayMap(x -> x, range(100))) }",
     "Memory limit exceeded"),
    ("let t := '[' || arrayStringConcat(range(100000), ',') || ']'; let all := []\n"
     "while (true) { all := arrayPushBack(all, jsonParse(t)) }", "Memory limit exceeded"),
    ("return 'x' || " + " || ".join(["'y'"] * 5) + " =~ '(?<=x)y'",
     "Runtime error: Invalid regular expression: invalid perl operator: (?<="),
])
def test_limits_end_hostile_programs_with_the_references_messages(source: str, error: str) -> None:
    timeout = 0.2 if "timed out" in error else 20.0  # the others must hit their own limit first
    assert run(source, limits=Limits(timeout_seconds=timeout, memory_bytes=8 * 1024 * 1024)).error == error


@pytest.mark.parametrize("source", [
    "let s := ''; for (let i := 0; i < 4000; i := i + 1) { s := s || 'a' }; return s || '!' =~ '(a+)+$'",
    "let s := ''; for (let i := 0; i < 4000; i := i + 1) { s := s || 'a' }; return s =~ '(a|a)*b'",
    "let s := ''; for (let i := 0; i < 4000; i := i + 1) { s := s || 'a' }; return s like '%a%a%a%a%a%a%a%a%b'",
    "return match(repeat, '(x+x+)+y')",
])
def test_regex_bombs_run_in_linear_time(source: str) -> None:
    """Patterns that make a backtracking engine run for ages: RE2 answers at once (a backtracking engine could
    not be stopped by the clock, which is only read between steps)."""
    result = run(source, {"repeat": "x" * 5000}, limits=Limits(timeout_seconds=5))
    assert (result.value, result.error) == (False, None)


@pytest.mark.parametrize("opening", ["(", "[", "{'a': ", "not ", "- ", "x -> ", "f("])
def test_deeply_nested_source_is_a_compile_error(opening: str) -> None:
    closing = {"(": ")", "[": "]", "{'a': ": "}", "f(": ")"}.get(opening, "")
    result = run("return " + opening * 5000 + "1" + closing * 5000)
    assert result.error is not None and "nests deeper than 100 levels" in result.error


def test_a_loop_building_its_result_is_charged_for_what_it_keeps() -> None:
    """Memory counts live values: a variable's old array is given back when it is replaced."""
    result = run("let xs := []; for (let i := 0; i < 20000; i := i + 1) { xs := arrayPushBack(xs, i) }\n"
                 "return length(xs)", limits=Limits(timeout_seconds=60, memory_bytes=8 * 1024 * 1024))
    assert (result.value, result.error) == (20000, None)  # every copy counted would be 1.6 GB


def test_globals() -> None:
    result = run("return length(output) > 0 and properties.$ai_model = 'gpt'",
                 {"output": "hi", "properties": {"$ai_model": "gpt"}})
    assert result.value is True


MORE: list[tuple[str, Any]] = [
    ("return multiIf(false, 1, true, 2, 3)", 2),
    ("return multiIf(false, 1, 3)", 3),
    ("return and(1, true, 'x') and not or(0, '', null)", True),
    ("return not equals(1, '1') and equals(1, 1) and notEquals(1, 2) and greater(2, 1) and lessOrEquals(1, 1)", True),
    ("return plus(1, 2) + minus(5, 3)", 5),
    ("return match('abc', 'b.') and not match('abc', '^b')", True),
    ("return like('banana', '%nan%') and ilike('BANANA', 'b%') and notLike('a', 'b') and notILike('A', 'b')", True),
    ("return extract('order-123', '(\\\\d+)')", "123"),
    ("return encodeURLComponent('a b/c') || '|' || decodeURLComponent('a%20b')", "a%20b%2Fc|a b"),
    ("return base64Decode(base64Encode('hog'))", "hog"),
    ("return md5Hex('')", "d41d8cd98f00b204e9800998ecf8427e"),
    ("return length(sha256Hex('x'))", 64),
    ("return JSONExtractString('{\"a\": {\"b\": \"c\"}}', 'a', 'b')", "c"),
    ("return JSONExtractInt('{\"n\": [1, 2, 3]}', 'n', -1)", 3),
    ("return JSONHas('{\"a\": 1}', 'a') and not JSONHas('{\"a\": 1}', 'b') and JSONLength('[1, 2]') = 2", True),
    ("return JSONExtractBool('{\"ok\": true}', 'ok') and JSONExtractFloat('{\"x\": 2}', 'x') = 2.0", True),
    ("return assumeNotNull(5)", 5),
]


@pytest.mark.parametrize(("source", "expected"), MORE)
def test_more_of_the_library(source: str, expected: Any) -> None:
    result = run(source)
    assert result.error is None, result.error
    assert result.value == expected and type(result.value) is type(expected)

"""Hog expressions (reference §7.3): a precedence-climbing parser over the lexer's tokens. `parser.py` adds the
statements; f-strings parse their embedded expressions with this same parser."""

from typing import NoReturn

from amigo_api.hog import ast as a
from amigo_api.hog.lexer import HogSyntaxError, Token, tokenize

MAX_DEPTH = 100
# Binary operators by binding power (higher binds tighter); the comparison family is handled on its own.
BINARY = {"??": 1, "or": 2, "and": 3, "||": 6, "+": 7, "-": 7, "*": 8, "/": 8, "%": 8}
COMPARISON_POWER = 5
NOT_POWER = 4
COMPARISONS = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
               "=~": "=~", "!~": "!~", "=~*": "=~*", "!~*": "!~*",
               "~": "=~", "~*": "=~*"}
NEGATABLE = ("like", "ilike", "in", "between")
POSTFIX = frozenset({"(", "[", "?.[", ".", "?."})
CALLABLE_KEYWORDS = ("and", "or", "like", "ilike", "if", "in")


class ExpressionParser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.position = 0
        self.token = self.tokens[0]  # the current token, kept as `position` moves
        self.depth = 0

    # Tokens ---------------------------------------------------------------------------------------

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def at(self, *values: str) -> bool:
        return self.token.op in values

    def take(self) -> Token:
        token = self.token
        if token.kind != "end":
            self.position += 1
            self.token = self.tokens[self.position]
        return token

    def accept(self, value: str) -> bool:
        if self.at(value):
            self.take()
            return True
        return False

    def fail(self, message: str, token: Token | None = None) -> NoReturn:
        token = token or self.token
        raise HogSyntaxError(message, token.line, token.column)

    def expect(self, value: str) -> Token:
        if not self.at(value):
            found = "the end of the program" if self.token.kind == "end" else repr(self.token.value)
            self.fail(f"Expected '{value}', found {found}")
        return self.take()

    def name(self) -> str:
        if self.token.kind != "identifier":
            self.fail(f"Expected a name, found {self.token.value!r}")
        return str(self.take().value)

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"The program nests deeper than {MAX_DEPTH} levels")

    def block(self) -> a.Block:
        """Lambda bodies may be blocks: the statement parser provides them."""
        self.fail("A block is not allowed here")

    def params(self) -> list[str]:
        self.expect("(")
        names: list[str] = []
        while not self.at(")"):
            names.append(self.name())
            if not self.accept(","):
                break
        self.expect(")")
        return names

    # Expressions ----------------------------------------------------------------------------------

    def expression(self) -> a.Node:
        self.deeper()
        start = self.token
        node = self.binary(0)
        if self.accept("?"):
            then = self.expression()
            self.expect(":")
            node = a.Ternary(start.line, start.column, node, then, self.expression())
        self.depth -= 1
        return node

    def binary(self, minimum: int) -> a.Node:
        left = self.prefix()
        while True:
            start = self.token
            if minimum < COMPARISON_POWER and self.comparison_ahead():
                left = self.comparison(left)
                continue
            power = BINARY.get(str(start.value)) if start.kind in ("operator", "keyword") else None
            if power is None or power <= minimum:
                return left
            self.take()
            left = a.Binary(start.line, start.column, str(start.value), left, self.binary(power))

    def comparison_ahead(self) -> bool:
        token = self.token
        if token.kind == "operator":
            return token.value in COMPARISONS
        if token.kind != "keyword":
            return False
        return token.value in ("like", "ilike", "in", "is", "between") or (
            token.value == "not" and self.peek().kind == "keyword" and self.peek().value in NEGATABLE)

    def comparison(self, left: a.Node) -> a.Node:
        start = self.take()
        op = str(start.value)
        if op in COMPARISONS:
            return a.Binary(start.line, start.column, COMPARISONS[op], left, self.binary(COMPARISON_POWER))
        negated = op == "not"
        if negated:
            op = str(self.take().value)
        if op == "is":
            is_not = self.accept("not")
            self.expect("null")
            return a.IsNull(start.line, start.column, left, is_not)
        if op == "between":
            low = self.binary(COMPARISON_POWER)
            self.expect("and")
            return a.Between(start.line, start.column, left, low, self.binary(COMPARISON_POWER), negated)
        return a.Binary(start.line, start.column, f"not {op}" if negated else op, left, self.binary(COMPARISON_POWER))

    def prefix(self) -> a.Node:
        start = self.token
        if not self.at("not", "-", "+"):
            return self.postfix(self.primary())
        self.take()
        self.deeper()
        operand = self.binary(NOT_POWER) if start.value == "not" else self.prefix()
        self.depth -= 1
        return operand if start.value == "+" else a.Unary(start.line, start.column, str(start.value), operand)

    def postfix(self, node: a.Node) -> a.Node:
        while True:
            start = self.token
            if start.op not in POSTFIX:
                return node
            if self.accept("("):
                node = a.Call(start.line, start.column, node, self.arguments(")"))
            elif self.accept("[") or self.accept("?.["):
                index = self.expression()
                self.expect("]")
                node = a.Index(start.line, start.column, node, self.one_based(index), start.value == "?.[")
            elif self.accept(".") or self.accept("?."):
                field = self.take()
                if field.kind not in ("identifier", "keyword", "number"):
                    self.fail(f"Expected a field name, found {field.value!r}", field)
                name = field.value if field.kind == "number" else str(field.value)
                if name == 0:
                    self.fail("Array access starts from 1", field)
                node = a.Attribute(start.line, start.column, node, name, start.value == "?.")  # type: ignore[arg-type]
            else:
                return node

    def one_based(self, index: a.Node) -> a.Node:
        if isinstance(index, a.Constant) and index.value == 0 and not isinstance(index.value, bool):
            self.fail("Array access starts from 1", Token("number", 0, index.line, index.column))
        return index

    def arguments(self, closing: str) -> list[a.Node]:
        items: list[a.Node] = []
        while not self.at(closing):
            items.append(self.expression())
            if not self.accept(","):
                break
        self.expect(closing)
        return items

    def primary(self) -> a.Node:
        token = self.token
        if token.kind in ("number", "string"):
            self.take()
            return a.Constant(token.line, token.column, token.value)
        if token.kind == "fstring":
            self.take()
            return self.fstring(token)
        if token.kind == "keyword" and token.value in ("true", "false", "null"):
            self.take()
            return a.Constant(token.line, token.column, {"true": True, "false": False, "null": None}[str(token.value)])
        if token.kind == "keyword" and token.value in CALLABLE_KEYWORDS and self.peek().value == "(":
            self.take()  # `and(a, b)`, `like(s, p)`, `if(c, a, b)`: functions named like keywords
            return a.Name(token.line, token.column, str(token.value))
        if token.kind == "identifier":
            if self.peek().value == "->" and self.peek().kind == "operator":
                self.take()
                self.take()
                return a.Lambda(token.line, token.column, [str(token.value)], self.lambda_body())
            self.take()
            return a.Name(token.line, token.column, str(token.value))
        if self.accept("["):
            return a.ArrayLiteral(token.line, token.column, self.arguments("]"))
        if self.accept("{"):
            return self.dictionary(token)
        if self.at("("):
            return self.parenthesized(token)
        self.fail("Unexpected end of the program" if token.kind == "end" else f"Unexpected {token.value!r}")

    def lambda_body(self) -> a.Node:
        return self.block() if self.at("{") else self.expression()

    def parenthesized(self, start: Token) -> a.Node:
        if self.lambda_ahead():
            params = self.params()
            self.expect("->")
            return a.Lambda(start.line, start.column, params, self.lambda_body())
        self.take()
        items = self.arguments(")")
        if len(items) == 1 and self.tokens[self.position - 2].value != ",":
            return items[0]
        return a.TupleLiteral(start.line, start.column, items)

    def lambda_ahead(self) -> bool:
        """`(a, b) ->`: names and commas up to the closing parenthesis, then an arrow."""
        offset = 1
        while self.peek(offset).kind == "identifier" or self.peek(offset).value == ",":
            offset += 1
        closing, arrow = self.peek(offset), self.peek(offset + 1)
        return closing.value == ")" and arrow.kind == "operator" and arrow.value == "->"

    def dictionary(self, start: Token) -> a.DictLiteral:
        pairs = []
        while not self.at("}"):
            key = self.expression()
            self.expect(":")
            pairs.append((key, self.expression()))
            if not self.accept(","):
                break
        self.expect("}")
        return a.DictLiteral(start.line, start.column, pairs)

    def fstring(self, token: Token) -> a.FString:
        """`f'a {x} b'`: constant parts and the expressions between braces (`\\{` is a brace)."""
        text, parts, buffer, index = str(token.value), list[a.Node](), "", 0
        while index < len(text):
            char = text[index]
            if char == "\\" and text[index + 1:index + 2] in ("{", "}"):
                buffer, index = buffer + text[index + 1], index + 2
            elif char == "{":
                end = text.find("}", index)
                if end < 0:
                    self.fail("Unclosed '{' in an f-string", token)
                if buffer:
                    parts.append(a.Constant(token.line, token.column, buffer))
                inner = type(self)(text[index + 1:end])
                parts.append(inner.expression())
                if inner.token.kind != "end":
                    inner.fail(f"Unexpected {inner.token.value!r} in an f-string")
                buffer, index = "", end + 1
            else:
                buffer, index = buffer + char, index + 1
        if buffer or not parts:
            parts.append(a.Constant(token.line, token.column, buffer))
        return a.FString(token.line, token.column, parts)

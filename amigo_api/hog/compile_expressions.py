"""Hog expressions compiled to Python closures over a frame, and the compile-time scopes behind them.

A frame is a Python list: `[runtime, enclosing frame, slot, slot, ...]`. Every local variable of a function
(or of the program) gets its own slot when it is compiled, so reading one at run time is an index into a
list (or into an enclosing frame, for a closure's captured variables), never a search by name."""

import operator
from collections.abc import Callable
from typing import Any

from amigo_api.hog import ast as a
from amigo_api.hog.lexer import HogSyntaxError
from amigo_api.hog.library import LIBRARY as FUNCTIONS
from amigo_api.hog.operators import NUMBERS, binary_operation, numeric_fast_path
from amigo_api.hog.runtime import call_value, get_index
from amigo_api.hog.values import compare, to_string

Frame = list[Any]
Expr = Callable[[Frame], Any]
RUNTIME, PARENT, FIRST_SLOT = 0, 1, 2


class FunctionContext:
    """One function's (or the program's) blocks of declared names, and the slots given out so far."""

    def __init__(self, parent: "FunctionContext | None") -> None:
        self.parent = parent
        self.blocks: list[dict[str, int]] = [{}]
        self.size = FIRST_SLOT

    def find(self, name: str) -> int | None:
        for block in reversed(self.blocks):
            if name in block:
                return block[name]
        return None

    def declare(self, name: str) -> int:
        self.blocks[-1][name] = slot = self.size
        self.size += 1
        return slot


def reader(depth: int, slot: int) -> Expr:
    if depth == 0:
        return operator.itemgetter(slot)
    if depth == 1:
        return lambda frame: frame[PARENT][slot]

    def far(frame: Frame) -> Any:
        for _ in range(depth):
            frame = frame[PARENT]
        return frame[slot]
    return far


def outer(frame: Frame, depth: int) -> Frame:
    for _ in range(depth):
        frame = frame[PARENT]
    return frame


class ExpressionCompiler:
    def __init__(self) -> None:
        self.context = FunctionContext(None)

    def error(self, message: str, node: a.Node) -> HogSyntaxError:
        return HogSyntaxError(message, node.line, node.column)

    def resolve(self, name: str) -> tuple[int, int] | None:
        """(how many frames out, slot) of a local variable; None for a global."""
        context: FunctionContext | None = self.context
        depth = 0
        while context is not None:
            slot = context.find(name)
            if slot is not None:
                return depth, slot
            context, depth = context.parent, depth + 1
        return None

    def declare(self, name: str, node: a.Node) -> int:
        if name in self.context.blocks[-1]:
            raise self.error(f"Variable `{name}` already declared in this scope", node)
        return self.context.declare(name)

    def expression(self, node: a.Node) -> Expr:
        method = EXPRESSION_METHODS.get(type(node))
        if method is None:
            raise self.error(f"Unsupported expression {type(node).__name__}", node)
        compiled: Expr = method(self, node)
        return compiled

    def expressions(self, nodes: list[a.Node]) -> list[Expr]:
        return [self.expression(n) for n in nodes]

    def expr_Constant(self, node: a.Constant) -> Expr:  # noqa: N802
        value = node.value
        return lambda frame: value

    def expr_Name(self, node: a.Name) -> Expr:  # noqa: N802
        found, name = self.resolve(node.name), node.name
        if found is None:
            return lambda frame: frame[RUNTIME].global_value(name)
        return reader(*found)

    def expr_FString(self, node: a.FString) -> Expr:  # noqa: N802
        parts = self.expressions(node.parts)
        return lambda frame: frame[RUNTIME].joined([to_string(p(frame)) for p in parts])

    def expr_ArrayLiteral(self, node: a.ArrayLiteral) -> Expr:  # noqa: N802
        items = self.expressions(node.items)
        return lambda frame: frame[RUNTIME].array([i(frame) for i in items])

    def expr_TupleLiteral(self, node: a.TupleLiteral) -> Expr:  # noqa: N802
        items = self.expressions(node.items)
        return lambda frame: tuple(frame[RUNTIME].array([i(frame) for i in items]))

    def expr_DictLiteral(self, node: a.DictLiteral) -> Expr:  # noqa: N802
        pairs = [(self.expression(k), self.expression(v)) for k, v in node.pairs]
        return lambda frame: frame[RUNTIME].mapping({k(frame): v(frame) for k, v in pairs})

    def expr_Index(self, node: a.Index) -> Expr:  # noqa: N802
        target, index, optional = self.expression(node.target), self.expression(node.index), node.optional
        return lambda frame: get_index(target(frame), index(frame), optional)

    def expr_Attribute(self, node: a.Attribute) -> Expr:  # noqa: N802
        target, name, optional = self.expression(node.target), node.name, node.optional
        return lambda frame: get_index(target(frame), name, optional)

    def expr_Call(self, node: a.Call) -> Expr:  # noqa: N802
        args = self.expressions(node.args)
        if isinstance(node.callee, a.Name) and self.resolve(node.callee.name) is None:
            name = node.callee.name
            library = FUNCTIONS.get(name)
            if library is not None:
                return charged_call(library, args)
            # Not ours: a function passed in as a global, or a run-time "Unsupported function call".
            return lambda frame: frame[RUNTIME].call_named(name, [x(frame) for x in args])
        callee = self.expression(node.callee)
        return lambda frame: call_value(frame[RUNTIME], callee(frame), [x(frame) for x in args])

    def expr_Lambda(self, node: a.Lambda) -> Expr:  # noqa: N802
        return self.function("lambda", node.params, node.body, node)

    def function(self, name: str, params: list[str], body: a.Node, node: a.Node) -> Expr:
        raise NotImplementedError  # statements compile function bodies (compiler.Compiler)

    def expr_Unary(self, node: a.Unary) -> Expr:  # noqa: N802
        operand = self.expression(node.operand)
        if node.op == "not":
            return lambda frame: not operand(frame)
        return lambda frame: frame[RUNTIME].arithmetic("*", -1, operand(frame))

    def expr_Ternary(self, node: a.Ternary) -> Expr:  # noqa: N802
        condition, then, otherwise = (self.expression(n) for n in (node.condition, node.then, node.otherwise))
        return lambda frame: then(frame) if condition(frame) else otherwise(frame)

    def expr_IsNull(self, node: a.IsNull) -> Expr:  # noqa: N802
        value, negated = self.expression(node.value), node.negated
        return lambda frame: (value(frame) is None) != negated

    def expr_Between(self, node: a.Between) -> Expr:  # noqa: N802
        value, low, high = self.expression(node.value), self.expression(node.low), self.expression(node.high)
        negated = node.negated

        def run(frame: Frame) -> bool:
            checked = value(frame)
            inside = compare(">=", checked, low(frame)) and compare("<=", checked, high(frame))
            return inside != negated
        return run

    def expr_Binary(self, node: a.Binary) -> Expr:  # noqa: N802
        left, right, op = self.expression(node.left), self.expression(node.right), node.op
        if op == "and":
            return lambda frame: bool(left(frame)) and bool(right(frame))
        if op == "or":
            return lambda frame: bool(left(frame)) or bool(right(frame))
        if op == "??":
            return lambda frame: value if (value := left(frame)) is not None else right(frame)
        fast, operation = numeric_fast_path(op), binary_operation(op)
        if fast is None:
            return lambda frame: operation(frame[RUNTIME], left(frame), right(frame))
        return numeric_first(op, fast, operation, left, right, node.right)


# Each node type's compiling method, looked up once rather than by name for every node.
EXPRESSION_METHODS: dict[type, Callable[..., Expr]] = {
    node_type: getattr(ExpressionCompiler, f"expr_{node_type.__name__}") for node_type in vars(a).values()
    if isinstance(node_type, type) and hasattr(ExpressionCompiler, f"expr_{getattr(node_type, '__name__', '')}")}


def charged_call(library: Callable[[Any, list[Any]], Any], args: list[Expr]) -> Expr:
    """A library call whose result is charged to the memory budget, unless the function charged what it
    built itself (the budget moved during the call)."""
    def call(frame: Frame) -> Any:
        runtime = frame[RUNTIME]
        before = runtime.memory
        result = library(runtime, [x(frame) for x in args])
        if runtime.memory == before:
            runtime.charge_value(result)
        return result
    return call


def numeric_first(op: str, fast: Callable[[Any, Any], Any], operation: Callable[[Any, Any, Any], Any],
                  left: Expr, right: Expr, right_node: a.Node) -> Expr:
    """Two plain numbers need none of Hog's mixed-type rules: the common case goes straight to Python's
    operator (dividing by zero still takes the rules, which make it a Hog error)."""
    divides = op in ("/", "%")
    if isinstance(right_node, a.Constant) and type(right_node.value) in NUMBERS and not (
            divides and right_node.value == 0):
        constant = right_node.value

        def with_constant(frame: Frame) -> Any:
            x = left(frame)
            if type(x) in NUMBERS:
                return fast(x, constant)
            return operation(frame[RUNTIME], x, constant)
        return with_constant

    def run(frame: Frame) -> Any:
        x, y = left(frame), right(frame)
        if type(x) in NUMBERS and type(y) in NUMBERS and (y or not divides):
            return fast(x, y)
        return operation(frame[RUNTIME], x, y)
    return run

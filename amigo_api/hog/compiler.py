"""Hog's syntax tree compiled to Python closures (no tree walking at run time), with compile-time scope
checks: a name declared twice in one scope, or assigned without being declared, is a compile error.

A compiled statement returns None to go on, or a one-item tuple holding the value of a `return` that ends
its function, so returning needs no exception."""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amigo_api.hog import ast as a
from amigo_api.hog.compile_expressions import (
    FIRST_SLOT,
    RUNTIME,
    Expr,
    ExpressionCompiler,
    Frame,
    FunctionContext,
    outer,
)
from amigo_api.hog.parser import parse
from amigo_api.hog.runtime import Runtime, set_index
from amigo_api.hog.values import Closure, HogRuntimeError, HogThrow

Stmt = Callable[[Frame], tuple[Any] | None]
RELEASABLE = (str, list, tuple, dict)


@dataclass(frozen=True)
class CompiledProgram:
    body: Stmt
    frame_size: int

    def execute(self, runtime: Runtime) -> Any:
        """The program's `return` value (null without one)."""
        returned = self.body([runtime, None, *[None] * (self.frame_size - FIRST_SLOT)])
        return returned[0] if returned is not None else None


def sequence(steps: list[Stmt]) -> Stmt:
    if len(steps) == 1:
        return steps[0]

    def run(frame: Frame) -> tuple[Any] | None:
        for step in steps:
            returned = step(frame)
            if returned is not None:
                return returned
        return None
    return run


def loop(condition: Expr, body: Stmt, step: Stmt | None = None) -> Stmt:
    def run(frame: Frame) -> tuple[Any] | None:
        runtime = frame[RUNTIME]
        while condition(frame):
            runtime.budget -= 1
            if runtime.budget < 0:
                runtime.check_clock()
            returned = body(frame)
            if returned is not None:
                return returned
            if step is not None:
                step(frame)
        return None
    return run


class Compiler(ExpressionCompiler):
    def block(self, statements: list[a.Node], new_scope: bool = True) -> Stmt:
        if new_scope:
            self.context.blocks.append({})
        steps = [self.statement(s) for s in statements]
        if new_scope:
            self.context.blocks.pop()
        return sequence(steps) if steps else (lambda frame: None)

    def scoped(self, node: a.Node) -> Stmt:
        return self.block(node.statements if isinstance(node, a.Block) else [node])

    def statement(self, node: a.Node) -> Stmt:
        method = STATEMENT_METHODS.get(type(node))
        if method is None:
            raise self.error(f"Unsupported statement {type(node).__name__}", node)
        compiled: Stmt = method(self, node)
        return compiled

    def stmt_Block(self, node: a.Block) -> Stmt:  # noqa: N802
        return self.block(node.statements)

    def stmt_ExpressionStatement(self, node: a.ExpressionStatement) -> Stmt:  # noqa: N802
        expression = self.expression(node.expression)

        def run(frame: Frame) -> None:
            expression(frame)
        return run

    def stmt_Let(self, node: a.Let) -> Stmt:  # noqa: N802
        value = self.expression(node.value) if node.value is not None else (lambda frame: None)
        return assignment(0, self.declare(node.name, node), value)

    def stmt_Function(self, node: a.Function) -> Stmt:  # noqa: N802
        slot = self.declare(node.name, node)
        make = self.function(node.name, node.params, node.body, node)

        def run(frame: Frame) -> None:
            frame[slot] = make(frame)
        return run

    def stmt_Assign(self, node: a.Assign) -> Stmt:  # noqa: N802
        value, target = self.expression(node.value), node.target
        if isinstance(target, a.Name):
            found = self.resolve(target.name)
            if found is None:
                raise self.error(f"Variable `{target.name}` is not declared: use `let {target.name} := ...`", node)
            depth, slot = found
            return assignment(depth, slot, value)
        assert isinstance(target, a.Index | a.Attribute)  # the parser assigns nothing else
        container = self.expression(target.target)
        key = self.expression(target.index) if isinstance(target, a.Index) else self.expression(
            a.Constant(target.line, target.column, target.name))

        def assign_field(frame: Frame) -> None:
            set_index(frame[RUNTIME], container(frame), key(frame), value(frame))
        return assign_field

    def stmt_Return(self, node: a.Return) -> Stmt:  # noqa: N802
        value = self.expression(node.value) if node.value is not None else (lambda frame: None)
        return lambda frame: (value(frame),)

    def stmt_Throw(self, node: a.Throw) -> Stmt:  # noqa: N802
        value = self.expression(node.value)

        def run(frame: Frame) -> None:
            raise HogThrow(value(frame))
        return run

    def stmt_If(self, node: a.If) -> Stmt:  # noqa: N802
        condition, then = self.expression(node.condition), self.scoped(node.then)
        otherwise = self.scoped(node.otherwise) if node.otherwise is not None else (lambda frame: None)
        return lambda frame: then(frame) if condition(frame) else otherwise(frame)

    def stmt_While(self, node: a.While) -> Stmt:  # noqa: N802
        return loop(self.expression(node.condition), self.scoped(node.body))

    def stmt_For(self, node: a.For) -> Stmt:  # noqa: N802
        self.context.blocks.append({})
        init = self.statement(node.init) if node.init is not None else (lambda frame: None)
        condition = self.expression(node.condition) if node.condition is not None else (lambda frame: True)
        step = self.statement(node.step) if node.step is not None else None
        body = self.scoped(node.body)
        self.context.blocks.pop()
        repeat = loop(condition, body, step)

        def run(frame: Frame) -> tuple[Any] | None:
            init(frame)
            return repeat(frame)
        return run

    def stmt_ForIn(self, node: a.ForIn) -> Stmt:  # noqa: N802
        iterable = self.expression(node.iterable)
        self.context.blocks.append({})
        key_slot = self.declare(node.key, node) if node.key else None
        value_slot = self.declare(node.value, node)
        body = self.scoped(node.body)
        self.context.blocks.pop()

        def run(frame: Frame) -> tuple[Any] | None:
            collection, runtime = iterable(frame), frame[RUNTIME]
            for key, value in pairs_of(collection):
                runtime.budget -= 1
                if runtime.budget < 0:
                    runtime.check_clock()
                frame[value_slot] = value
                if key_slot is not None:
                    frame[key_slot] = key
                returned = body(frame)
                if returned is not None:
                    return returned
            return None
        return run

    def stmt_Try(self, node: a.Try) -> Stmt:  # noqa: N802
        body = self.block(node.body.statements)
        catches = []
        for catch in node.catches:
            self.context.blocks.append({})
            slot = self.declare(catch.name, catch) if catch.name else None
            catches.append((slot, catch.error_type, self.block(catch.body.statements)))
            self.context.blocks.pop()

        def run(frame: Frame) -> tuple[Any] | None:
            try:
                return body(frame)
            except (HogThrow, HogRuntimeError) as thrown:
                error = thrown.value if isinstance(thrown, HogThrow) else frame[RUNTIME].error_value(
                    "Error", str(thrown))
                error_type = error.get("type") if isinstance(error, dict) else None
                for slot, wanted, handler in catches:
                    if wanted is None or wanted == error_type:
                        if slot is not None:
                            frame[slot] = error
                        return handler(frame)
                raise
        return run

    def function(self, name: str, params: list[str], body: a.Node, node: a.Node) -> Expr:
        self.context = context = FunctionContext(self.context)
        for param in params:
            self.declare(param, node)
        if isinstance(body, a.Block):
            statements = self.block(body.statements, new_scope=False)
            run_body: Expr = lambda frame: None if (r := statements(frame)) is None else r[0]  # noqa: E731
        else:
            run_body = self.expression(body)  # `x -> x * 2`
        self.context = context.parent  # type: ignore[assignment]  # a function always has a parent
        count, locals_count = len(params), context.size - FIRST_SLOT - len(params)

        def make(frame: Frame) -> Closure:
            runtime = frame[RUNTIME]
            deepest = runtime.limits.call_depth

            def invoke(args: list[Any]) -> Any:
                given = len(args)
                inner = [runtime, frame, *args] if given == count else [
                    runtime, frame, *args[:count], *[None] * (count - given)]
                if locals_count:
                    inner.extend([None] * locals_count)
                runtime.budget -= 1
                if runtime.budget < 0:
                    runtime.check_clock()
                runtime.depth += 1
                if runtime.depth > deepest:
                    runtime.depth -= 1
                    raise HogRuntimeError(f"Maximum call stack depth ({deepest}) exceeded")
                try:
                    return run_body(inner)
                finally:
                    runtime.depth -= 1
            return Closure(name, params, invoke)
        return make


STATEMENT_METHODS: dict[type, Callable[..., Stmt]] = {
    node_type: getattr(Compiler, f"stmt_{node_type.__name__}") for node_type in vars(a).values()
    if isinstance(node_type, type) and hasattr(Compiler, f"stmt_{getattr(node_type, '__name__', '')}")}


def assignment(depth: int, slot: int, value: Expr) -> Stmt:
    """Stores a variable; the value it held is given back to the memory budget when nothing else holds it
    (so `xs := arrayPushBack(xs, x)` in a loop is charged for the array it keeps, not every copy made)."""
    def assign(frame: Frame) -> None:
        new = value(frame)
        target = outer(frame, depth) if depth else frame
        old, target[slot] = target[slot], new
        if type(old) in RELEASABLE and sys.getrefcount(old) == 2:  # `old` here and getrefcount's argument
            frame[RUNTIME].release(old)
    return assign


def pairs_of(collection: Any) -> list[tuple[Any, Any]]:
    """`for (let k, v in x)`: a dict's keys and values, or a sequence's 1-based positions and items."""
    if collection is None:
        return []
    if isinstance(collection, dict):
        return list(collection.items())
    if isinstance(collection, list | tuple | str):
        return [(i + 1, v) for i, v in enumerate(collection)]
    raise HogRuntimeError(f"Cannot iterate over {type(collection).__name__}")


def compile_tree(program: a.Program) -> CompiledProgram:
    compiler = Compiler()
    body = compiler.block(program.statements, new_scope=False)
    return CompiledProgram(body, compiler.context.size)


def compile_program(source: str) -> CompiledProgram:
    """The program ready to run; HogSyntaxError with line and column otherwise."""
    return compile_tree(parse(source))

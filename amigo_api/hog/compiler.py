"""Hog's syntax tree compiled to Python closures (no tree walking at run time), with compile-time scope
checks: a name declared twice in one scope, or assigned without being declared, is a compile error."""

from collections.abc import Callable
from typing import Any

from amigo_api.hog import ast as a
from amigo_api.hog.lexer import HogSyntaxError
from amigo_api.hog.operators import NUMBERS, binary_operation, numeric_fast_path
from amigo_api.hog.parser import parse
from amigo_api.hog.runtime import Scope, call_value, get_index, set_index
from amigo_api.hog.values import Closure, HogRuntimeError, HogThrow, compare, to_string, truthy

Expr = Callable[[Scope], Any]
Stmt = Callable[[Scope], None]


class Returned(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, value: Any) -> None:
        self.value = value


class Compiler:
    def __init__(self) -> None:
        self.scopes: list[set[str]] = [set()]

    def error(self, message: str, node: a.Node) -> HogSyntaxError:
        return HogSyntaxError(message, node.line, node.column)

    def declared(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    def declare(self, name: str, node: a.Node) -> None:
        if name in self.scopes[-1]:
            raise self.error(f"Variable `{name}` already declared in this scope", node)
        self.scopes[-1].add(name)

    # Statements -----------------------------------------------------------------------------------

    def block(self, statements: list[a.Node], new_scope: bool = True) -> Stmt:
        if new_scope:
            self.scopes.append(set())
        compiled = [self.statement(s) for s in statements]
        # A block that declares nothing needs no scope of its own (most loop bodies): one allocation less a pass.
        own_scope = new_scope and bool(self.scopes.pop())

        def run(scope: Scope) -> None:
            inner = Scope(scope.runtime, scope) if own_scope else scope
            for step in compiled:
                step(inner)
        return run

    def statement(self, node: a.Node) -> Stmt:
        method = getattr(self, f"stmt_{type(node).__name__}", None)
        if method is None:
            raise self.error(f"Unsupported statement {type(node).__name__}", node)
        return method(node)

    def stmt_Block(self, node: a.Block) -> Stmt:  # noqa: N802
        return self.block(node.statements)

    def stmt_ExpressionStatement(self, node: a.ExpressionStatement) -> Stmt:  # noqa: N802
        expression = self.expression(node.expression)
        return lambda scope: (expression(scope), None)[1]

    def stmt_Let(self, node: a.Let) -> Stmt:  # noqa: N802
        value = self.expression(node.value) if node.value is not None else (lambda scope: None)
        self.declare(node.name, node)
        name = node.name
        return lambda scope: scope.vars.__setitem__(name, value(scope))

    def stmt_Function(self, node: a.Function) -> Stmt:  # noqa: N802
        self.declare(node.name, node)
        make = self.function(node.name, node.params, node.body)
        name = node.name
        return lambda scope: scope.vars.__setitem__(name, make(scope))

    def stmt_Assign(self, node: a.Assign) -> Stmt:  # noqa: N802
        value = self.expression(node.value)
        target = node.target
        if isinstance(target, a.Name):
            if not self.declared(target.name):
                raise self.error(f"Variable `{target.name}` is not declared: use `let {target.name} := ...`", node)
            name = target.name
            return lambda scope: scope.assign(name, value(scope))
        assert isinstance(target, a.Index | a.Attribute)  # the parser assigns nothing else
        container = self.expression(target.target)
        if isinstance(target, a.Index):
            key = self.expression(target.index)
        else:
            field_name = target.name
            key = lambda scope: field_name  # noqa: E731
        return lambda scope: set_index(container(scope), key(scope), value(scope))

    def stmt_Return(self, node: a.Return) -> Stmt:  # noqa: N802
        value = self.expression(node.value) if node.value is not None else (lambda scope: None)

        def run(scope: Scope) -> None:
            raise Returned(value(scope))
        return run

    def stmt_Throw(self, node: a.Throw) -> Stmt:  # noqa: N802
        value = self.expression(node.value)

        def run(scope: Scope) -> None:
            raise HogThrow(value(scope))
        return run

    def stmt_If(self, node: a.If) -> Stmt:  # noqa: N802
        condition, then = self.expression(node.condition), self.scoped(node.then)
        otherwise = self.scoped(node.otherwise) if node.otherwise is not None else None

        def run(scope: Scope) -> None:
            if truthy(condition(scope)):
                then(scope)
            elif otherwise is not None:
                otherwise(scope)
        return run

    def scoped(self, node: a.Node) -> Stmt:
        return self.block(node.statements) if isinstance(node, a.Block) else self.block([node])

    def stmt_While(self, node: a.While) -> Stmt:  # noqa: N802
        condition, body = self.expression(node.condition), self.scoped(node.body)

        def run(scope: Scope) -> None:
            tick = scope.runtime.tick
            while truthy(condition(scope)):
                tick()
                body(scope)
        return run

    def stmt_For(self, node: a.For) -> Stmt:  # noqa: N802
        self.scopes.append(set())
        init = self.statement(node.init) if node.init is not None else None
        condition = self.expression(node.condition) if node.condition is not None else (lambda scope: True)
        step = self.statement(node.step) if node.step is not None else None
        body = self.scoped(node.body)
        self.scopes.pop()

        def run(scope: Scope) -> None:
            inner, tick = Scope(scope.runtime, scope), scope.runtime.tick
            if init is not None:
                init(inner)
            while truthy(condition(inner)):
                tick()
                body(inner)
                if step is not None:
                    step(inner)
        return run

    def stmt_ForIn(self, node: a.ForIn) -> Stmt:  # noqa: N802
        iterable = self.expression(node.iterable)
        self.scopes.append({n for n in (node.key, node.value) if n})
        body = self.scoped(node.body)
        self.scopes.pop()
        key_name, value_name = node.key, node.value

        def run(scope: Scope) -> None:
            collection, tick = iterable(scope), scope.runtime.tick
            if collection is None:
                return
            if isinstance(collection, dict):
                pairs = list(collection.items())
            elif isinstance(collection, list | tuple | str):
                pairs = [(i + 1, v) for i, v in enumerate(collection)]
            else:
                raise HogRuntimeError(f"Cannot iterate over {type(collection).__name__}")
            for key, value in pairs:
                tick()
                inner = Scope(scope.runtime, scope)
                inner.vars[value_name] = value
                if key_name:
                    inner.vars[key_name] = key
                body(inner)
        return run

    def stmt_Try(self, node: a.Try) -> Stmt:  # noqa: N802
        body = self.block(node.body.statements)
        catches = []
        for catch in node.catches:
            self.scopes.append({catch.name} if catch.name else set())
            catches.append((catch.name, catch.error_type, self.block(catch.body.statements)))
            self.scopes.pop()

        def run(scope: Scope) -> None:
            try:
                body(scope)
            except (HogThrow, HogRuntimeError) as thrown:
                error = thrown.value if isinstance(thrown, HogThrow) else scope.runtime.error_value(
                    "Error", str(thrown))
                error_type = error.get("type") if isinstance(error, dict) else None
                for name, wanted, handler in catches:
                    if wanted is None or wanted == error_type:
                        inner = Scope(scope.runtime, scope)
                        if name:
                            inner.vars[name] = error
                        handler(inner)
                        return
                raise
        return run

    # Functions ------------------------------------------------------------------------------------

    def function(self, name: str, params: list[str], body: a.Node) -> Callable[[Scope], Closure]:
        self.scopes.append(set(params))
        if isinstance(body, a.Block):
            statements = self.block(body.statements, new_scope=False)

            def run_body(scope: Scope) -> Any:
                try:
                    statements(scope)
                except Returned as returned:
                    return returned.value
                return None
        else:
            run_body = self.expression(body)  # type: ignore[assignment]  # `x -> x` needs no exception
        self.scopes.pop()
        count = len(params)

        def make(scope: Scope) -> Closure:
            def invoke(args: list[Any]) -> Any:
                inner = Scope(scope.runtime, scope)
                values = list(args[:count]) + [None] * (count - len(args))
                inner.vars.update(zip(params, values, strict=True))
                return run_body(inner)
            return Closure(name, params, invoke)
        return make

    # Expressions ----------------------------------------------------------------------------------

    def expression(self, node: a.Node) -> Expr:
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            raise self.error(f"Unsupported expression {type(node).__name__}", node)
        return method(node)

    def expr_Constant(self, node: a.Constant) -> Expr:  # noqa: N802
        value = node.value
        return lambda scope: value

    def expr_Name(self, node: a.Name) -> Expr:  # noqa: N802
        name = node.name
        if self.declared(name):
            return lambda scope: scope.lookup(name)
        return lambda scope: scope.runtime.global_value(name)

    def expr_FString(self, node: a.FString) -> Expr:  # noqa: N802
        parts = [self.expression(p) for p in node.parts]
        return lambda scope: scope.runtime.text("".join(to_string(p(scope)) for p in parts))

    def expr_ArrayLiteral(self, node: a.ArrayLiteral) -> Expr:  # noqa: N802
        items = [self.expression(i) for i in node.items]
        return lambda scope: scope.runtime.array([i(scope) for i in items])

    def expr_TupleLiteral(self, node: a.TupleLiteral) -> Expr:  # noqa: N802
        items = [self.expression(i) for i in node.items]
        return lambda scope: tuple(scope.runtime.array([i(scope) for i in items]))

    def expr_DictLiteral(self, node: a.DictLiteral) -> Expr:  # noqa: N802
        pairs = [(self.expression(k), self.expression(v)) for k, v in node.pairs]
        return lambda scope: scope.runtime.mapping({k(scope): v(scope) for k, v in pairs})

    def expr_Index(self, node: a.Index) -> Expr:  # noqa: N802
        target, index, optional = self.expression(node.target), self.expression(node.index), node.optional
        return lambda scope: get_index(target(scope), index(scope), optional)

    def expr_Attribute(self, node: a.Attribute) -> Expr:  # noqa: N802
        target, name, optional = self.expression(node.target), node.name, node.optional
        return lambda scope: get_index(target(scope), name, optional)

    def expr_Call(self, node: a.Call) -> Expr:  # noqa: N802
        args = [self.expression(x) for x in node.args]
        if isinstance(node.callee, a.Name) and not self.declared(node.callee.name):
            name = node.callee.name
            return lambda scope: scope.runtime.call_named(name, [x(scope) for x in args])
        callee = self.expression(node.callee)
        return lambda scope: call_value(scope.runtime, callee(scope), [x(scope) for x in args])

    def expr_Lambda(self, node: a.Lambda) -> Expr:  # noqa: N802
        return self.function("lambda", node.params, node.body)

    def expr_Unary(self, node: a.Unary) -> Expr:  # noqa: N802
        operand = self.expression(node.operand)
        if node.op == "not":
            return lambda scope: not truthy(operand(scope))
        return lambda scope: scope.runtime.arithmetic("*", -1, operand(scope))

    def expr_Ternary(self, node: a.Ternary) -> Expr:  # noqa: N802
        condition, then, otherwise = (self.expression(n) for n in (node.condition, node.then, node.otherwise))
        return lambda scope: then(scope) if truthy(condition(scope)) else otherwise(scope)

    def expr_IsNull(self, node: a.IsNull) -> Expr:  # noqa: N802
        value, negated = self.expression(node.value), node.negated
        return lambda scope: (value(scope) is None) != negated

    def expr_Between(self, node: a.Between) -> Expr:  # noqa: N802
        value, low, high, negated = (self.expression(node.value), self.expression(node.low),
                                     self.expression(node.high), node.negated)

        def run(scope: Scope) -> bool:
            checked = value(scope)
            inside = compare(">=", checked, low(scope)) and compare("<=", checked, high(scope))
            return inside != negated
        return run

    def expr_Binary(self, node: a.Binary) -> Expr:  # noqa: N802
        left, right, op = self.expression(node.left), self.expression(node.right), node.op
        if op == "and":
            return lambda scope: truthy(left(scope)) and truthy(right(scope))
        if op == "or":
            return lambda scope: truthy(left(scope)) or truthy(right(scope))
        if op == "??":
            return lambda scope: value if (value := left(scope)) is not None else right(scope)
        fast = numeric_fast_path(op)
        operation = binary_operation(op)
        if fast is None:
            return lambda scope: operation(scope.runtime, left(scope), right(scope))

        def run(scope: Scope) -> Any:
            x, y = left(scope), right(scope)
            if type(x) in NUMBERS and type(y) in NUMBERS and y != 0:  # the common case, without the rules
                return fast(x, y)
            return operation(scope.runtime, x, y)
        return run


def compile_program(source: str) -> Stmt:
    """The program as one runnable step; HogSyntaxError with line and column otherwise."""
    return Compiler().block(parse(source).statements, new_scope=False)

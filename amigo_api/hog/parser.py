"""Hog source to the syntax tree of `hog.ast` (reference §7.2): statements here, expressions in
`expressions.py`. Compile errors carry line and column; nesting deeper than MAX_DEPTH is refused, so hostile
source cannot exhaust the parser's stack."""

from amigo_api.hog import ast as a
from amigo_api.hog.expressions import MAX_DEPTH as MAX_DEPTH  # the limit, for readers of this module
from amigo_api.hog.expressions import ExpressionParser

STATEMENT_ENDS = (";", "}")


# Statements by their first keyword: the parsing method of each.
STATEMENTS = {"let": "let", "fun": "function", "fn": "function", "return": "return_", "if": "if_", "while": "while_",
              "for": "for_", "try": "try_", "throw": "throw"}

class Parser(ExpressionParser):
    # Statements -----------------------------------------------------------------------------------

    def program(self) -> a.Program:
        statements = []
        while self.token.kind != "end":
            statements.append(self.statement())
        return a.Program(1, 1, statements)

    def block(self) -> a.Block:
        start = self.expect("{")
        statements = []
        while not self.at("}"):
            if self.token.kind == "end":
                self.fail("Expected '}', found the end of the program")
            statements.append(self.statement())
        self.take()
        return a.Block(start.line, start.column, statements)

    def statement(self) -> a.Node:
        self.deeper()
        node = self.statement_at_depth()
        self.depth -= 1
        return node

    def statement_at_depth(self) -> a.Node:
        token = self.token
        handler = STATEMENTS.get(str(token.value)) if token.kind == "keyword" else None
        if handler is not None:
            node = getattr(self, handler)()
        elif self.at("{"):
            node = self.block()
        else:
            node = self.expression_statement()
        self.accept(";")
        return node

    def let(self) -> a.Let:
        start = self.take()
        name = self.name()
        value = self.expression() if self.accept(":=") else None
        return a.Let(start.line, start.column, name, value)

    def function(self) -> a.Function:
        start = self.take()
        return a.Function(start.line, start.column, self.name(), self.params(), self.block())

    def return_(self) -> a.Return:
        start = self.take()
        ends = self.token.kind == "end" or self.at(*STATEMENT_ENDS)
        return a.Return(start.line, start.column, None if ends else self.expression())

    def throw(self) -> a.Throw:
        start = self.take()
        return a.Throw(start.line, start.column, self.expression())

    def if_(self) -> a.If:
        start = self.take()
        self.expect("(")
        condition = self.expression()
        self.expect(")")
        then = self.statement()
        otherwise = self.statement() if self.accept("else") else None
        return a.If(start.line, start.column, condition, then, otherwise)

    def while_(self) -> a.While:
        start = self.take()
        self.expect("(")
        condition = self.expression()
        self.expect(")")
        return a.While(start.line, start.column, condition, self.statement())

    def for_(self) -> a.Node:
        start = self.take()
        self.expect("(")
        if self.at("let") and self.peek(2).value in (",", "in") and self.peek(2).kind in ("operator", "keyword"):
            self.take()
            first = self.name()
            second = self.name() if self.accept(",") else None
            self.expect("in")
            iterable = self.expression()
            self.expect(")")
            key, value = (first, second) if second is not None else (None, first)
            return a.ForIn(start.line, start.column, key, value, iterable, self.statement())
        init = None if self.at(";") else (self.let() if self.at("let") else self.expression_statement())
        self.expect(";")
        condition = None if self.at(";") else self.expression()
        self.expect(";")
        step = None if self.at(")") else self.expression_statement()
        self.expect(")")
        return a.For(start.line, start.column, init, condition, step, self.statement())

    def try_(self) -> a.Try:
        start = self.take()
        body = self.block()
        catches = []
        while self.at("catch"):
            catch = self.take()
            name = error_type = None
            if self.accept("("):
                name = self.name()
                if self.accept(":"):
                    error_type = self.name()
                self.expect(")")
            catches.append(a.Catch(catch.line, catch.column, name, error_type, self.block()))
        if self.at("finally"):
            self.fail("'finally' is not supported")
        if not catches:
            self.fail("'try' needs at least one 'catch'", start)
        return a.Try(start.line, start.column, body, catches)

    def expression_statement(self) -> a.Node:
        start = self.token
        expression = self.expression()
        if self.accept(":="):
            if not isinstance(expression, a.Name | a.Index | a.Attribute):
                self.fail("Only a variable, a field or an index can be assigned", start)
            return a.Assign(start.line, start.column, expression, self.expression())
        return a.ExpressionStatement(start.line, start.column, expression)

def parse(source: str) -> a.Program:
    """The program's syntax tree; HogSyntaxError (with line and column) otherwise."""
    return Parser(source).program()

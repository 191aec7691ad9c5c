"""Hog's typed syntax tree. Every node knows where it starts (line, column), for errors."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    line: int
    column: int


# Expressions ------------------------------------------------------------------------------------------

@dataclass
class Constant(Node):
    value: Any


@dataclass
class Name(Node):
    name: str


@dataclass
class FString(Node):
    parts: list["Node"]  # Constant strings and expressions, concatenated


@dataclass
class ArrayLiteral(Node):
    items: list[Node]


@dataclass
class TupleLiteral(Node):
    items: list[Node]


@dataclass
class DictLiteral(Node):
    pairs: list[tuple[Node, Node]]


@dataclass
class Index(Node):
    target: Node
    index: Node
    optional: bool = False  # `?.[`


@dataclass
class Attribute(Node):
    target: Node
    name: str | int  # `d.key`, or `a.1` (1-based)
    optional: bool = False  # `?.`


@dataclass
class Call(Node):
    callee: Node
    args: list[Node]


@dataclass
class Lambda(Node):
    params: list[str]
    body: Node  # an expression, or a Block


@dataclass
class Unary(Node):
    op: str  # "-", "not"
    operand: Node


@dataclass
class Binary(Node):
    op: str  # arithmetic, "||", comparisons, "and", "or", "??", "in", "not in", "like", ...
    left: Node
    right: Node


@dataclass
class Between(Node):
    value: Node
    low: Node
    high: Node
    negated: bool = False


@dataclass
class IsNull(Node):
    value: Node
    negated: bool = False


@dataclass
class Ternary(Node):
    condition: Node
    then: Node
    otherwise: Node


# Statements -------------------------------------------------------------------------------------------

@dataclass
class Block(Node):
    statements: list[Node] = field(default_factory=list)


@dataclass
class Let(Node):
    name: str
    value: Node | None


@dataclass
class Assign(Node):
    target: Node  # a Name, Index or Attribute
    value: Node


@dataclass
class ExpressionStatement(Node):
    expression: Node


@dataclass
class Return(Node):
    value: Node | None


@dataclass
class Throw(Node):
    value: Node


@dataclass
class If(Node):
    condition: Node
    then: Node
    otherwise: Node | None


@dataclass
class While(Node):
    condition: Node
    body: Node


@dataclass
class For(Node):
    init: Node | None
    condition: Node | None
    step: Node | None
    body: Node


@dataclass
class ForIn(Node):
    key: str | None
    value: str
    iterable: Node
    body: Node


@dataclass
class Function(Node):
    name: str
    params: list[str]
    body: Block


@dataclass
class Catch(Node):
    name: str | None
    error_type: str | None
    body: Block


@dataclass
class Try(Node):
    body: Block
    catches: list[Catch]


@dataclass
class Program(Node):
    statements: list[Node]

"""The stored, compiled form of a Hog program: its checked syntax tree as a JSON list, marked with a format
version, so the evaluator runs it without reading the source again, and a change of format is noticed (the
stored program is then compiled again from its source).

`["_AH", <version>, <tree>]`, where each node is `{"n": <node type>, "at": [line, column], <fields>...}`."""

import dataclasses
from typing import Any

from amigo_api.hog import ast as a
from amigo_api.hog.compiler import CompiledProgram, compile_tree
from amigo_api.hog.parser import parse

MARKER = "_AH"
FORMAT_VERSION = 1
NODES: dict[str, type[a.Node]] = {
    cls.__name__: cls for cls in vars(a).values()
    if isinstance(cls, type) and issubclass(cls, a.Node) and cls is not a.Node}
POSITION = ("line", "column")


class StaleBytecode(ValueError):
    """Not our compiled form, or an older version of it: compile the source again."""


def encode(value: Any) -> Any:
    if isinstance(value, a.Node):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in POSITION}
        return {"n": type(value).__name__, "at": [value.line, value.column], **fields}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        node_type = NODES.get(value.get("n", ""))
        if node_type is None:
            raise StaleBytecode(f"Unknown node {value.get('n')!r}")
        fields = {k: decode(v) for k, v in value.items() if k not in ("n", "at")}
        try:
            return node_type(*value["at"], **fields)
        except (TypeError, KeyError, ValueError) as error:
            raise StaleBytecode(f"Malformed {value['n']} node") from error
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def to_bytecode(program: a.Program) -> list[Any]:
    return [MARKER, FORMAT_VERSION, encode(program)]


def is_current(bytecode: Any) -> bool:
    return isinstance(bytecode, list) and len(bytecode) == 3 and bytecode[:2] == [MARKER, FORMAT_VERSION]


def compile_source(source: str) -> list[Any]:
    """Source to its stored form, checked as the engine checks it (HogSyntaxError with line and column)."""
    program = parse(source)
    compile_tree(program)
    return to_bytecode(program)


def load(bytecode: Any) -> CompiledProgram:
    """The stored form ready to run; StaleBytecode when it is not the current format."""
    if not is_current(bytecode):
        raise StaleBytecode("Not the current compiled format")
    program = decode(bytecode[2])
    if not isinstance(program, a.Program):
        raise StaleBytecode("The compiled form holds no program")
    return compile_tree(program)

"""Running a Hog program: compile (syntax and scope errors with line and column), then run with limits.
Every way a run can end is a result, with the reference's messages for what stopped it."""

from dataclasses import dataclass, field
from typing import Any

from amigo_api.hog.compiler import CompiledProgram, compile_program
from amigo_api.hog.lexer import HogSyntaxError
from amigo_api.hog.library import LIBRARY as FUNCTIONS
from amigo_api.hog.runtime import HogMemoryError, HogTimeout, Limits, Runtime
from amigo_api.hog.values import HogRuntimeError, HogThrow, printed


@dataclass
class HogResult:
    value: Any = None
    output: list[str] = field(default_factory=list)
    error: str | None = None  # None: the program ran to its end or a `return`


def _thrown_message(value: Any) -> str:
    """An uncaught error value as the reference renders it: `Error('msg')`."""
    if isinstance(value, dict) and value.get("__hogError__"):
        return f"{value.get('type', 'Error')}({printed(value.get('message'))})"
    return printed(value, nested=False)


def run(program: str | CompiledProgram, globals_: dict[str, Any] | None = None,
        limits: Limits | None = None) -> HogResult:
    """Run source (compiled first) or an already compiled program; every way it can end is a result."""
    if isinstance(program, str):
        try:
            program = compile_program(program)
        except HogSyntaxError as error:
            return HogResult(error=f"Syntax error: {error}")
    runtime = Runtime(dict(globals_ or {}), limits or Limits(), FUNCTIONS)
    result = HogResult(output=runtime.output)
    try:
        result.value = program.execute(runtime)
    except HogThrow as thrown:
        result.error = f"Runtime error: {_thrown_message(thrown.value)}"
    except HogRuntimeError as error:
        result.error = f"Runtime error: {error}"
    except (HogTimeout, HogMemoryError) as stopped:
        result.error = str(stopped)
    except RecursionError:
        result.error = "Runtime error: Maximum call stack depth exceeded"
    except MemoryError:
        result.error = "Memory limit exceeded"
    except Exception as unexpected:  # a library function's own failure (jsonParse of invalid JSON): not Hog's
        result.error = f"Unexpected error during evaluation: {type(unexpected).__name__}: {unexpected}"
    return result

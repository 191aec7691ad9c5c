"""The program that runs inside the sandbox, with the tool's own interpreter and environment: standard
library and pydantic only, never amigo_api (the service's files are not visible in there).

    python -I -B /tool/harness.py <schema|invoke|test> <result-fd>

The request is JSON on stdin; the answer is one JSON document written to <result-fd>, so whatever the tool
prints cannot be mistaken for it."""

import importlib
import inspect
import json
import os
import sys
import time
import traceback
from typing import Any

PROJECT = "/tool/project"


class EntrypointError(Exception):
    """The project's `entrypoint` cannot be used."""


def _import_paths() -> None:
    """The project's modules importable as they would be once it is installed: the `src/` layout's folder, and
    the project's own (the flat layout)."""
    project = os.getcwd()  # /tool/project in the sandbox; the build's own folder when run unconfined
    for folder in (project, os.path.join(project, "src")):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.insert(0, folder)


def _entrypoint(spec: str) -> Any:
    module_name, _, function_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise EntrypointError(f"The entrypoint module {module_name!r} cannot be imported: "
                              f"{type(exc).__name__}: {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise EntrypointError(f"The entrypoint {spec!r} is not a function of the module.")
    return function


def _parameter_models(function: Any) -> list[Any]:
    hints = inspect.get_annotations(function, eval_str=True)
    return [hints.get(p.name) for p in inspect.signature(function).parameters.values()]


def _input_model(function: Any) -> Any:
    from pydantic import BaseModel

    models = _parameter_models(function)
    if not models or not (isinstance(models[0], type) and issubclass(models[0], BaseModel)):
        raise EntrypointError("The entrypoint's first parameter must be annotated with a pydantic model: its JSON "
                              "Schema is the tool's input schema.")
    return models[0]


def schema(request: dict[str, Any]) -> dict[str, Any]:
    try:
        model = _input_model(_entrypoint(request["entrypoint"]))
        return {"input_schema": model.model_json_schema()}
    except EntrypointError as exc:
        return {"error": str(exc)}


def _own_frames(tb: Any) -> list[str]:
    """The stack trace lines of the tool's own files (paths relative to the project)."""
    lines = []
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith(f"{PROJECT}/"):
            where = frame.filename[len(PROJECT) + 1:]
            lines.append(f'File "{where}", line {frame.lineno}, in {frame.name}: {(frame.line or "").strip()}')
    return lines


def _as_output(value: Any) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.dumps(value)


def invoke(request: dict[str, Any]) -> dict[str, Any]:
    try:
        function = _entrypoint(request["entrypoint"])
        models = _parameter_models(function)
        tool_input = _input_model(function).model_validate(request["input"])
    except Exception as exc:
        return {"succeeded": False, "exception_type": type(exc).__name__, "exception_message": str(exc),
                "exception_stack_trace": _own_frames(exc.__traceback__), "duration_ms": 0}
    args: list[Any] = [tool_input]
    if len(models) > 1:
        context_model = models[1]
        context = request.get("context", {})
        args.append(context_model.model_validate(context) if hasattr(context_model, "model_validate") else context)
    started = time.perf_counter()
    try:
        value = function(*args)
        duration_ms = round((time.perf_counter() - started) * 1000)
        return {"succeeded": True, "output": _as_output(value), "duration_ms": duration_ms}
    except BaseException as exc:  # noqa: BLE001 - whatever the tool raises is its result
        duration_ms = round((time.perf_counter() - started) * 1000)
        return {"succeeded": False, "exception_type": type(exc).__name__, "exception_message": str(exc),
                "exception_stack_trace": _own_frames(exc.__traceback__), "duration_ms": duration_ms}


FAILURE_MESSAGE_CHARS = 500


def _crash_message(report: Any) -> str:
    """What pytest's short summary shows after a failed test's name: the crash line (the assertion)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        message = str(crash.message).strip()
    else:  # a collection error: its last line says what went wrong
        lines = report.longreprtext.strip().splitlines()
        message = lines[-1] if lines else ""
    return message[:FAILURE_MESSAGE_CHARS] + ("..." if len(message) > FAILURE_MESSAGE_CHARS else "")


class _Outcomes:
    """A pytest plugin that notes which tests failed, and why (the short summary's line for each)."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []
        self.summaries: list[str] = []

    def _failure(self, name: str, report: Any) -> None:
        self.failed.append(name)
        message = _crash_message(report)
        self.summaries.append(f"FAILED {name}{' - ' + message if message else ''}")

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self._failure(report.nodeid, report)
        elif report.passed and report.when == "call":
            self.passed += 1

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self._failure(f"{report.nodeid or 'collection'} (collection error)", report)


def _has_tests() -> bool:
    for _, _, files in os.walk(PROJECT):
        if any(f.endswith(".py") and (f.startswith("test_") or f.endswith("_test.py")) for f in files):
            return True
    return False


def test(_: dict[str, Any]) -> dict[str, Any]:
    try:
        import pytest
    except ImportError:
        if not _has_tests():
            return {"exit_code": 5, "passed": 0, "failed": []}  # pytest's "no tests collected"
        return {"error": "The project has tests but pytest is not installed in the tool's environment: add it "
                         "to the `test` extra of pyproject.toml "
                         "(`[project.optional-dependencies] test = [\"pytest>=8\"]`)."}
    outcomes = _Outcomes()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-o", "console_output_style=classic"], plugins=[outcomes])
    return {"exit_code": int(code), "passed": outcomes.passed, "failed": outcomes.failed,
            "summaries": outcomes.summaries}


MODES = {"schema": schema, "invoke": invoke, "test": test}


def main() -> None:
    mode, result_fd = sys.argv[1], int(sys.argv[2])
    request = json.loads(sys.stdin.read() or "{}")
    _import_paths()
    answer = MODES[mode](request)
    with os.fdopen(result_fd, "w") as result:
        result.write(json.dumps(answer))
    sys.stdout.flush()
    os._exit(0)  # the tool's threads and atexit hooks do not get to change the answer


if __name__ == "__main__":
    main()

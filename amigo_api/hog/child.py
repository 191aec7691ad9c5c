"""A child process of `pool.HogPool`: it runs Hog programs, one request at a time, read from stdin and answered on
stdout as length-prefixed pickles (`python -m amigo_api.hog.child <parent pid> <memory MiB>`).

It dies with its parent, runs at a lower priority than the server, starts no threads, and after warming up caps
its own address space (RLIMIT_AS) at what it uses then plus the configured Hog memory: a program that outgrows
Hog's own memory accounting meets the kernel's limit (a MemoryError, answered as `("memory",)` before the child
exits) rather than the host's. The parent kills it at a request's deadline."""

import ctypes
import gc
import os
import pickle
import resource
import signal
import struct
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, BinaryIO

import bson

from amigo_api.hog.bytecode import StaleBytecode, compile_source, load
from amigo_api.hog.compiler import CompiledProgram, compile_program
from amigo_api.hog.evaluation import HogVerdict, run_hog_eval
from amigo_api.hog.filters import FilterError, compile_filters, matcher
from amigo_api.hog.lexer import HogSyntaxError
from amigo_api.hog.runtime import Limits

FRAME = struct.Struct(">I")
NICENESS = 10
CACHED = 32  # compiled programs and condition sets kept by their source
PR_SET_PDEATHSIG = 1
MiB = 1024 * 1024
WARM_UP = "let words := splitByString(' ', 'a b c')\nprint(length(words), jsonStringify({'a': [1, 2]}))\n" \
          "return match(output, '^[a-z]+$') and toString(1.5) != ''"


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(FRAME.size)
    if len(header) < FRAME.size:
        return None
    return stream.read(FRAME.unpack(header)[0])


def write_frame(stream: BinaryIO, value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(FRAME.pack(len(payload)) + payload)
    stream.flush()


class Cache:
    """What was built from a request's source, kept for the next request that names the same source."""

    def __init__(self) -> None:
        self._built: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        if key in self._built:
            self._built.move_to_end(key)
            return self._built[key]
        value = self._built[key] = build()
        if len(self._built) > CACHED:
            self._built.popitem(last=False)
        return value


CACHE = Cache()


def _program(spec: tuple[Any, ...]) -> CompiledProgram:
    """`("source", text)`, or `("stored", bytecode, source)`: a stored form that is not current is compiled again
    from its source."""
    if spec[0] == "stored":
        try:
            return CACHE.get(("stored", repr(spec[1])), lambda: load(spec[1]))
        except StaleBytecode:
            spec = ("source", spec[2])
    return CACHE.get(("source", spec[1]), lambda: compile_program(str(spec[1])))


def _matchers(conditions: list[Any]) -> list[Callable[[dict[str, Any]], bool]]:
    """One per condition with filters (its filters AND-ed); conditions without filters are skipped."""
    def build() -> list[Callable[[dict[str, Any]], bool]]:
        found = []
        for properties in conditions:
            if not properties:
                continue
            if not isinstance(properties, list):
                raise FilterError("`properties` must be a list of property filters")
            found.append(matcher(compile_filters(properties)))
        return found
    return CACHE.get(("conditions", repr(conditions)), build)


def _event(value: bytes | dict[str, Any]) -> dict[str, Any]:
    return bson.decode(value) if isinstance(value, bytes) else value


def compile_stored(source: str) -> tuple[Any, ...]:
    """The stored form of a program (`bytecode.compile_source`): `("compiled", form)` or `("refused", why)`."""
    try:
        return ("compiled", compile_source(source))
    except HogSyntaxError as error:
        return ("refused", str(error))
    except RecursionError:
        return ("refused", "the program nests too deeply to be compiled")


def check(source: str, conditions: list[Any]) -> tuple[Any, ...]:
    """Whether the source compiles and the conditions' filters do: `("ok",)` or `("refused", message)`."""
    try:
        _program(("source", source))
    except HogSyntaxError as error:
        return ("refused", f"Compilation error: {error}")
    except RecursionError:
        return ("refused", "Compilation failed due to an unexpected error")
    try:
        _matchers(conditions)
    except FilterError as error:
        return ("refused", f"Invalid conditions: {error}")
    return ("ok",)


def match(conditions: list[Any], events: list[bytes]) -> tuple[Any, ...]:
    """The positions of the events whose properties pass any condition (all of them without conditions)."""
    matchers = _matchers(conditions)
    chosen = []
    for index, raw in enumerate(events):
        properties = _event(raw).get("properties") or {}
        if not matchers or any(m(properties) for m in matchers):
            chosen.append(index)
    return ("matched", chosen)


def evaluate(spec: tuple[Any, ...], event: bytes | dict[str, Any], allows_na: bool, limits: Limits
             ) -> tuple[Any, ...]:
    try:
        program = _program(spec)
    except HogSyntaxError as error:
        return ("verdict", HogVerdict(None, None, "", f"Compilation error: {error}"))
    return ("verdict", run_hog_eval(program, _event(event), allows_na, limits))


HANDLERS: dict[str, Callable[..., tuple[Any, ...]]] = {"compile": compile_stored, "check": check, "match": match,
                                                       "evaluate": evaluate}


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the line above took effect
        os._exit(1)


def _address_space() -> int | None:
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) * 1024


def _cap_memory(memory_mb: int) -> int | None:
    """The kernel's limit: the address space in use once warmed up, plus the configured Hog memory."""
    evaluate(("source", WARM_UP), {"event": "$ai_generation", "properties": {}}, False, Limits())
    gc.collect()
    baseline = _address_space()
    if baseline is not None:
        cap = baseline + memory_mb * MiB
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return baseline


def main() -> None:
    parent, memory_mb = int(sys.argv[1]), int(sys.argv[2])
    _die_with(parent)
    os.nice(NICENESS)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # the pipe carries frames only
    write_frame(answers, ("ready", _cap_memory(memory_mb)))
    while (frame := read_frame(requests)) is not None:
        try:
            request = pickle.loads(frame)
            answer = HANDLERS[request[0]](*request[1:])
        except MemoryError:
            del frame
            write_frame(answers, ("memory",))
            return  # what failed to allocate may have left the process in any state: the pool starts another
        write_frame(answers, answer)


if __name__ == "__main__":
    main()

"""The Hog engine (`amigo_api/hog`: source compiled to Python closures) on a CPU-heavy program against the same
algorithm in plain CPython, and the time to compile a 200-line program.

Runs with no arguments. Last line: RESULT hog_slowdown=<Hog time / CPython time>."""

import time
from collections.abc import Callable

from harness import ROOT  # noqa: F401  (puts the project on the path)

from amigo_api.hog.compiler import compile_program
from amigo_api.hog.engine import run
from amigo_api.hog.runtime import Limits

ROUNDS = 15  # the best of: this measures the code, not what else the machine is doing
TARGET = 30
HOG = """
let items := range(10000)
let squares := arrayMap(x -> x * x, items)
let evens := arrayFilter(x -> x % 2 = 0, squares)
let total := arrayReduce((acc, x) -> acc + x, evens, 0)
let text := ''
for (let i := 0; i < 2000; i := i + 1) {
    text := text || toString(i % 10)
}
let counts := {}
for (let ch in splitByString('', text)) {
    counts[ch] := (counts[ch] ?? 0) + 1
}
let loops := 0
let i := 0
while (i < 20000) {
    if (i % 3 = 0) { loops := loops + 1 }
    i := i + 1
}
return [total, length(text), counts['7'], loops]
"""


def python_version() -> list[int]:
    items = list(range(10000))
    squares = [x * x for x in items]
    evens = [x for x in squares if x % 2 == 0]
    total = 0
    for x in evens:
        total = total + x
    text = ""
    for i in range(2000):
        text = text + str(i % 10)
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    loops = 0
    i = 0
    while i < 20000:
        if i % 3 == 0:
            loops = loops + 1
        i = i + 1
    return [total, len(text), counts["7"], loops]


def best_of(work: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    expected = python_version()
    result = run(HOG, limits=Limits(timeout_seconds=60))
    assert result.error is None and result.value == expected, (result.error, result.value, expected)
    hog_seconds = best_of(lambda: run(HOG, limits=Limits(timeout_seconds=60)))
    python_seconds = best_of(python_version)
    long_program = "\n".join(f"let v{i} := [{i}, {i} + 1, f'{{{i}}}'] ?? null\nif (v{i}[1] > 3) {{ v{i} := [] }}"
                             for i in range(100))
    compile_ms = best_of(lambda: compile_program(long_program)) * 1000
    print(f"Hog (compiled to closures): {hog_seconds * 1000:.1f} ms; CPython: {python_seconds * 1000:.2f} ms")
    print(f"compiling a 200-line program: {compile_ms:.1f} ms (target < 20 ms)")
    print(f"RESULT hog_slowdown={hog_seconds / python_seconds:.1f} target=<={TARGET}")


if __name__ == "__main__":
    main()

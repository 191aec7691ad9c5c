"""Publishing the tool scaffold through the API: cold (an empty build cache: uv makes the environment) and
cached (a new commit outside the project: the build is reused; the project's tests and the input schema still
run in the sandbox), each the full HTTP call through Temporal to a tool worker.

Runs with no arguments on its own embedded stack (tool_stack.py); builds install from a local wheelhouse, so
the figures leave out download time. Last line: RESULT cached_publish_s=<median of the cached publishes>."""

import io
import statistics
import tarfile

from tool_stack import ORG, tool_stack

from amigo_api.tools.scaffold import ScaffoldRelease

CACHED_ROUNDS = 5
TARGET_SECONDS = 5


def main() -> None:
    with tool_stack("amigo-bench-tools-") as stack:
        tool_id = stack.create_tool("greeting")
        with tarfile.open(fileobj=io.BytesIO(ScaffoldRelease.load().archive), mode="r:gz") as tar:
            tar.extractall(stack.clone, filter="data")
        (stack.clone / "amigo_tool_scaffold").rename(stack.clone / "greeting")
        stack.push("The scaffold")
        cold = stack.timed_publish(tool_id, "greeting", "major")
        print(f"cold publish (empty build cache): {cold:.2f} s", flush=True)
        cached = []
        for round_number in range(CACHED_ROUNDS):
            (stack.clone / "NOTES.md").write_text(f"round {round_number}\n")
            stack.push(f"Round {round_number}")
            stack.http.delete(f"/v1/{ORG}/tool/{tool_id}/version/>=0").raise_for_status()  # stay under 3 versions
            cached.append(stack.timed_publish(tool_id, "greeting", "patch"))
            print(f"cached publish {round_number + 1}: {cached[-1]:.2f} s", flush=True)
        builds = [p for p in (stack.work / "builds").iterdir() if not p.name.startswith(".")]
        print(f"builds made: {len(builds)} (1 expected: every cached publish reused the first)")
        print(f"RESULT cached_publish_s={statistics.median(cached):.2f} target=<={TARGET_SECONDS}")


if __name__ == "__main__":
    main()

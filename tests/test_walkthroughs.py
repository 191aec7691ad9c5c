"""The newcomer's pages run as written: every shell block of docs/tutorial-tools.md in order, in one shell, and
every Python example of docs/sdk.md, against `amigo-api dev` started as the README says, in a folder of its
own with the repository's `.venv` and `.amigo` where the pages expect them. Only what is outside the product
is replaced: the package index (a local wheel folder) and OpenAI (a stub on loopback)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.llmstub import LlmStub, llm_stub
from tests.toolstack import make_wheelhouse

DOCS = Path(__file__).resolve().parents[1] / "docs"


@dataclass
class Newcomer:
    root: Path
    env: dict[str, str]
    llm: LlmStub

    def stack(self) -> dict[str, str]:
        stack: dict[str, str] = json.loads((self.root / ".amigo" / "dev-stack.json").read_text())
        return stack


def blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text(), re.DOTALL)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    root = tmp_path_factory.mktemp("newcomer")
    (root / ".venv").symlink_to(Path(sys.prefix))
    home = root / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMIGO_", "GIT_"))} | {
        "HOME": str(home),  # no git identity or other configuration of this machine's user
        "AMIGO_TOOL_FIND_LINKS": json.dumps([str(make_wheelhouse(root / "wheels"))]),
        "AMIGO_TOOL_BUILD_OFFLINE": "true"}
    log = (root / "dev.log").open("w")
    dev = subprocess.Popen([str(root / ".venv/bin/amigo-api"), "dev"], cwd=root, env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        stack_file = root / ".amigo" / "dev-stack.json"
        while not (stack_file.exists() and _up(json.loads(stack_file.read_text())["api_url"])):
            assert dev.poll() is None and time.monotonic() < deadline, (root / "dev.log").read_text()
            time.sleep(0.5)
        with llm_stub() as llm:
            yield Newcomer(root, env, llm)
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(60)
        log.close()


def _run(newcomer: Newcomer, command: list[str], script: str, **env: str) -> str:
    done = subprocess.run(command, input=script, cwd=newcomer.root, env={**newcomer.env, **env},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_the_tool_tutorial_runs_as_written(newcomer: Newcomer) -> None:
    script = "\n".join(blocks("tutorial-tools.md", "sh"))
    output = _run(newcomer, ["bash", "-euo", "pipefail"], script)
    for expected in ('"output":"Hello, Dr. Ada!"',  # test-tool, from the branch
                     '{"new_version":"1.0.0"}', "'excited'",
                     '"output":"Hello, Grace."',  # the published version, invoked
                     '"type": "api-invocation"',  # the history, asked for by name
                     "0 invocation(s) from conversations and simulations, more: False",  # parsed by the SDK
                     "FAILED tests/test_tool.py::test_greets_by_name - AssertionError: assert 'Hi, Ada.' == "
                     "'Hello, Ada.'",  # a refused publish says why
                     '{"new_version":"1.1.0"}', '"output":"Hi, Grace!"'):
        assert expected in output, f"{expected!r} not in:\n{output}"
    assert not re.search(r'"succeeded":\s*false', output), output


def test_the_sdk_examples_run_as_written(newcomer: Newcomer) -> None:
    examples = blocks("sdk.md", "python")
    assert len(examples) == 4
    outputs = [_run(newcomer, [str(newcomer.root / ".venv/bin/python"), "-"], example,
                    OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=newcomer.llm.url) for example in examples]
    assert outputs[0].startswith("organization: ")
    assert outputs[1] == "service: Coaching version sets: ['edge', 'release']\n"
    assert outputs[2] == "captured\n"
    assert outputs[3] == '{"reasoning": "Judged (fine).", "verdict": true}\n'  # what the stub answers
    assert [seen.body["model"] for seen in newcomer.llm.seen] == ["gpt-4o-mini"]
    stack = newcomer.stack()
    headers = {"x-api-key": stack["api_key"], "x-api-key-id": stack["api_key_id"], "x-user-id": stack["user_id"]}
    with httpx.Client(base_url=stack["api_url"], timeout=30) as http:
        token = http.post(f"/v1/{stack['org_id']}/user/signin_with_api_key", headers=headers).json()["id_token"]
        query = ("SELECT json_extract_string(properties, '$.\"$ai_trace_id\"') AS trace, "
                 "json_extract_string(properties, '$.\"$ai_model\"') AS model FROM events ORDER BY trace")
        rows = http.post(f"/v1/{stack['org_id']}/admin/sql_query", headers={"Authorization": f"Bearer {token}"},
                         json={"sql_query": query, "async_query": False}).json()["result"]
    assert rows == [["trace-1", "gpt-4o-mini"], ["trace-2", "gpt-4o-mini"]]


def test_devs_printout_and_the_scaffolds_readme_follow_the_tutorial(newcomer: Newcomer) -> None:
    tutorial = (DOCS / "tutorial-tools.md").read_text()
    printout = (newcomer.root / "dev.log").read_text()
    extract = "| tar -xz -C tools/greeting --strip-components=1"
    assert extract in tutorial and extract in printout
    assert "mkdir -p tools/greeting" in tutorial and "mkdir -p tools/greeting" in printout
    [clone] = [line for line in printout.splitlines() if line.startswith("git clone")]
    assert "credential.helper=!" in clone and "git-credential --data-dir" in clone
    assert re.search(r" http://\w+_[0-9a-f]{24}@127\.0\.0\.1:\d+/v1/\w+/tool/git/ tools$", clone)  # no token in it
    readme = (Path(__file__).resolve().parents[1] / "amigo_api/tools/scaffold_template/README.md.tmpl").read_text()
    assert "git -C tools add greeting" in readme and "git -C tools add greeting" in tutorial
    assert '"invocation_mode": "regular"' in readme and "docs/tutorial-tools.md" in readme

"""Driving the real `git` command line against a live server, isolated from the machine's git configuration."""

import os
import subprocess
from pathlib import Path

from tests.conftest import Caller


def remote_url(base_url: str, caller: Caller, org_id: str | None = None) -> str:
    host = base_url.removeprefix("http://")
    return f"http://{caller.org_id}_{caller.user_id}:{caller.token}@{host}/v1/{org_id or caller.org_id}/tool/git/"


def git(cwd: Path, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
           "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.com", "LANG": "C"}
    result = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result


def commit_all(work: Path, message: str) -> str:
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD").stdout.strip()

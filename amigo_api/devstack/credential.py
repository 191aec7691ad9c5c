"""`amigo-api git-credential`: git's credential-helper protocol for the tool repository of a `dev` stack.

git runs the helper with `get` and the request (`protocol=`, `host=`, ... lines, then a blank line) on stdin;
the helper signs in with the stack's API key and answers `username={org}_{user}` and a fresh token as the
password, so a clone keeps working after tokens expire and across restarts. See git's gitcredentials(7)."""

import json
import shlex
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx

from amigo_api.devstack import _executable

STACK_FILE = "dev-stack.json"


def read_request(stream: TextIO) -> dict[str, str]:
    request = {}
    for line in stream:
        line = line.rstrip("\n")
        if not line:
            break
        key, _, value = line.partition("=")
        request[key] = value
    return request


def answer(data_dir: Path, request: dict[str, str]) -> str:
    """The lines to print for a `get` request: nothing when the request is not for this stack (git then asks
    its other helpers), else the credentials."""
    stack_file = data_dir / STACK_FILE
    if not stack_file.exists():
        return ""
    stack = json.loads(stack_file.read_text())
    if request.get("host") != urlsplit(stack["api_url"]).netloc:
        return ""
    try:
        response = httpx.post(f"{stack['api_url']}/v1/{stack['org_id']}/user/signin_with_api_key", timeout=30,
                              headers={"x-api-key": stack["api_key"], "x-api-key-id": stack["api_key_id"],
                                       "x-user-id": stack["user_id"]})
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise SignInFailed(f"amigo-api git-credential: could not sign in at {stack['api_url']} ({exc}); is "
                           f"`amigo-api dev --data-dir {data_dir}` running?") from exc
    return f"username={stack['org_id']}_{stack['user_id']}\npassword={response.json()['id_token']}\n"


class SignInFailed(RuntimeError):
    pass


def clone_recipe(data_dir: Path, api_url: str, org_id: str, user_id: str) -> str:
    """A clone whose configuration keeps the helper, so later fetches and pushes sign in by themselves."""
    helper = f"!{shlex.quote(_executable('amigo-api'))} git-credential --data-dir {shlex.quote(str(data_dir))}"
    host = api_url.removeprefix("http://")
    return (f"git clone -c {shlex.quote('credential.helper=' + helper)} "
            f"http://{org_id}_{user_id}@{host}/v1/{org_id}/tool/git/ tools")

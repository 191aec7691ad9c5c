"""`amigo-api git-credential`: git's credential-helper protocol for the tool repository of a `dev` stack.

git runs the helper with `get` and the request (`protocol=`, `host=`, ... lines, then a blank line) on stdin;
the helper signs in with the stack's API key and answers `username={org}_{user}` and a token as the password,
so a clone keeps working after tokens expire and across restarts. The token is kept in the data dir (0600) and
reused while it has more than five minutes left; `erase` (git's answer to a refused token) forgets it. See git's
gitcredentials(7)."""

import json
import os
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx

from amigo_api.devstack import _executable

STACK_FILE = "dev-stack.json"
TOKEN_FILE = "git-token.json"
REUSE_MARGIN = timedelta(minutes=5)


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
    its other helpers), else the credentials, with a token reused while it has minutes left (git asks on every
    fetch and push, and sign-ins are rate limited)."""
    stack = _stack_for(data_dir, request)
    if stack is None:
        return ""
    token = _cached_token(data_dir, stack) or _sign_in(data_dir, stack)
    return f"username={stack['org_id']}_{stack['user_id']}\npassword={token}\n"


def erase(data_dir: Path, request: dict[str, str]) -> None:
    """git says the token was refused: forget it, so that the next `get` signs in again."""
    if _stack_for(data_dir, request) is not None:
        (data_dir / TOKEN_FILE).unlink(missing_ok=True)


def _stack_for(data_dir: Path, request: dict[str, str]) -> dict[str, str] | None:
    stack_file = data_dir / STACK_FILE
    if not stack_file.exists():
        return None
    stack: dict[str, str] = json.loads(stack_file.read_text())
    return stack if request.get("host") == urlsplit(stack["api_url"]).netloc else None


def _cached_token(data_dir: Path, stack: dict[str, str]) -> str | None:
    try:
        cached = json.loads((data_dir / TOKEN_FILE).read_text())
        fresh = datetime.fromisoformat(cached["expires_at"]) - datetime.now(UTC) > REUSE_MARGIN
    except (OSError, ValueError, KeyError, TypeError):
        return None
    same_key = (cached.get("api_url"), cached.get("api_key_id")) == (stack["api_url"], stack["api_key_id"])
    return str(cached["id_token"]) if fresh and same_key else None


def _sign_in(data_dir: Path, stack: dict[str, str]) -> str:
    try:
        response = httpx.post(f"{stack['api_url']}/v1/{stack['org_id']}/user/signin_with_api_key", timeout=30,
                              headers={"x-api-key": stack["api_key"], "x-api-key-id": stack["api_key_id"],
                                       "x-user-id": stack["user_id"]})
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise SignInFailed(f"amigo-api git-credential: could not sign in at {stack['api_url']} ({exc}); is "
                           f"`amigo-api dev --data-dir {data_dir}` running?") from exc
    signed_in = response.json()
    cache = data_dir / TOKEN_FILE
    partial = cache.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a secret: only its owner reads it
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"api_url": stack["api_url"], "api_key_id": stack["api_key_id"], **signed_in}, handle)
    partial.replace(cache)
    return str(signed_in["id_token"])


class SignInFailed(RuntimeError):
    pass


def clone_recipe(data_dir: Path, api_url: str, org_id: str, user_id: str) -> str:
    """A clone whose configuration keeps the helper, so later fetches and pushes sign in by themselves."""
    helper = f"!{shlex.quote(_executable('amigo-api'))} git-credential --data-dir {shlex.quote(str(data_dir))}"
    host = api_url.removeprefix("http://")
    return (f"git clone -c {shlex.quote('credential.helper=' + helper)} "
            f"http://{org_id}_{user_id}@{host}/v1/{org_id}/tool/git/ tools")

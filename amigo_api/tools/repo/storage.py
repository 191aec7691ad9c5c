"""Where each organization's bare repository lives, created on first use with the hooks the API relies on.

The hooks are shared by every repository (`core.hooksPath`): `pre-receive` refuses force pushes and deletion
of protected branches; `post-receive` appends the ref updates to the file named by `AMIGO_PUSH_LOG`, which the
API sets only for pushes made through it (so the API can record who pushed)."""

import asyncio
import re
import shutil
from pathlib import Path

import pygit2

from amigo_api.core.errors import NotFound

DEFAULT_BRANCH = "main"
ZERO_SHA = "0" * 40
_SAFE_ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

PRE_RECEIVE = f"""#!/bin/sh
# Refuse deleting or rewriting the branches named in AMIGO_PROTECTED_BRANCHES (space-separated).
status=0
while read -r old new ref; do
  for branch in $AMIGO_PROTECTED_BRANCHES; do
    [ "$ref" = "refs/heads/$branch" ] || continue
    [ "$old" = "{ZERO_SHA}" ] && continue
    if [ "$new" = "{ZERO_SHA}" ]; then
      echo "error: branch '$branch' is protected and cannot be deleted" >&2; status=1
    elif ! git merge-base --is-ancestor "$old" "$new"; then
      echo "error: branch '$branch' is protected: force pushes are refused" >&2; status=1
    fi
  done
done
exit $status
"""
POST_RECEIVE = """#!/bin/sh
# Hand the accepted ref updates ("old new ref" lines) to the API that ran this push.
if [ -n "$AMIGO_PUSH_LOG" ]; then cat >> "$AMIGO_PUSH_LOG"; else cat > /dev/null; fi
"""


class RepoStore:
    def __init__(self, root: str) -> None:
        # The API creates the repositories as its own user; a worker reads them as root (the sandbox needs it).
        # libgit2 refuses a repository another user owns (against repositories planted in shared folders); these
        # are ours, at paths made from organization ids under AMIGO_GIT_ROOT, so the check would only refuse the
        # worker. (`git` itself does not check a repository named with --git-dir, as builds name it.)
        pygit2.option(pygit2.enums.Option.SET_OWNER_VALIDATION, False)
        self.root = Path(root).resolve()
        self.hooks = self.root / ".hooks"
        self._lock = asyncio.Lock()
        self._ready: set[str] = set()

    def install_hooks(self) -> None:
        self.hooks.mkdir(parents=True, exist_ok=True)
        for name, script in (("pre-receive", PRE_RECEIVE), ("post-receive", POST_RECEIVE)):
            hook = self.hooks / name
            if not hook.exists() or hook.read_text() != script:
                hook.write_text(script)
            hook.chmod(0o755)

    def path(self, org_id: str) -> Path:
        if not _SAFE_ORG.match(org_id) or ".." in org_id:
            raise NotFound("The specified organization does not exist.", error_code="organization_not_found")
        return self.root / f"{org_id}.git"

    async def ensure(self, org_id: str) -> Path:
        """The org's repository, created (bare, default branch `main`) if it does not exist yet."""
        path = self.path(org_id)
        if org_id in self._ready:
            return path
        async with self._lock:
            if not (path / "HEAD").exists():
                await asyncio.to_thread(self._create, path)
            self._ready.add(org_id)
        return path

    def _create(self, path: Path) -> None:
        # Build in a sibling directory and rename, so another process never sees a half-made repository.
        staging = path.with_name(f".{path.name}.{id(self)}.tmp")
        repo = pygit2.init_repository(str(staging), bare=True, initial_head=DEFAULT_BRANCH)
        repo.config["core.hooksPath"] = str(self.hooks)
        repo.config["http.receivepack"] = True
        repo.config["receive.fsckObjects"] = True
        repo.config["uploadpack.allowFilter"] = True
        try:
            staging.rename(path)
        except OSError:
            if not (path / "HEAD").exists():
                raise
            shutil.rmtree(staging)

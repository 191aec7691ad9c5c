"""Authentication for the git endpoint, shaped for git clients: HTTP Basic (`{org_id}_{user_id}` : JWT) or
Bearer; a missing or bad credential is 401 with a plain `Basic` challenge so git prompts for one; a valid
user of another organization, or one without `Tool:AccessRepo`, is 403."""

from typing import Annotated

from fastapi import Depends, Request

from amigo_api.core.auth import Principal, authenticator, request_credentials, require, resolve_principal
from amigo_api.core.db import OrgDbDep
from amigo_api.core.errors import Unauthorized
from amigo_api.core.state import Tokens

GIT_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Amigo tool repository", charset="UTF-8"'}
ACCESS_REPO = "Tool:AccessRepo"


# Git clients answer a 401 only with the challenge below, so the request guard leaves these routes alone.
@authenticator(None, checked_before_body=False)
async def authenticate_git(request: Request, org: OrgDbDep, tokens: Tokens) -> Principal:
    try:
        credentials = request_credentials(request)
        claims = await tokens.verify(credentials.token)
        # The token's own organization is its issuer: git cannot send X-ORG-ID, and a user of another
        # organization then needs a role in this one (403 otherwise).
        principal = await resolve_principal(request, org, credentials, claims.org_id)
    except Unauthorized as exc:
        raise Unauthorized(exc.detail, headers=GIT_CHALLENGE) from exc
    principal.require(ACCESS_REPO)
    return principal


GitUser = Annotated[Principal, Depends(authenticate_git)]
RepoReader = Annotated[Principal, Depends(require(ACCESS_REPO))]

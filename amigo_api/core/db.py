"""MongoDB access: named clusters, the org -> cluster map, and an org-scoped database handle."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Request
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from amigo_api.core.errors import Conflict, InvalidRequest
from amigo_api.core.ids import ORG_ID_PATTERN
from amigo_api.settings import Settings

Document = dict[str, Any]
ORG_CLUSTERS = "organization_clusters"
T = TypeVar("T")


@dataclass(frozen=True)
class OrgDb:
    """The database of one organization on its cluster; repositories scope every query by `org_id`."""

    org_id: str
    cluster: str
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]


class Clusters:
    """Clients for every named cluster, and the cached org -> cluster map (an org never moves)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uris = settings.clusters()
        self._clients: dict[str, AsyncMongoClient[Document]] = {}
        self._databases: dict[str, AsyncDatabase[Document]] = {}
        self._org_cluster: dict[str, str] = {}
        self._org_dbs: dict[str, OrgDb] = {}

    def client(self, cluster: str) -> AsyncMongoClient[Document]:
        if cluster not in self.uris:
            raise InvalidRequest(f"Unknown MongoDB cluster {cluster!r}; configured: {sorted(self.uris)}.",
                                 error_code="unknown_mongo_cluster")
        if cluster not in self._clients:
            self._clients[cluster] = AsyncMongoClient(self.uris[cluster], tz_aware=True, connect=False,
                                                    timeoutMS=self.settings.mongo_timeout_ms)
        return self._clients[cluster]

    def database(self, cluster: str) -> AsyncDatabase[Document]:
        if cluster not in self._databases:
            self._databases[cluster] = self.client(cluster)[self.settings.database_name]
        return self._databases[cluster]

    @property
    def infra(self) -> AsyncDatabase[Document]:
        return self.client(self.settings.default_cluster)[self.settings.infra_database_name]

    async def mapped_cluster(self, org_id: str) -> str | None:
        if org_id in self._org_cluster:
            return self._org_cluster[org_id]
        doc = await self.infra[ORG_CLUSTERS].find_one({"_id": org_id})
        if doc is not None:
            self._org_cluster[org_id] = doc["cluster"]
            return str(doc["cluster"])
        return None

    async def org_db(self, org_id: str, requested_cluster: str | None = None) -> OrgDb:
        """The org's mapped cluster; for an org not in the map yet, the requested or default one."""
        if org_id in self._org_dbs:
            return self._org_dbs[org_id]
        mapped = await self.mapped_cluster(org_id)
        cluster = mapped or requested_cluster or self.settings.default_cluster
        org = OrgDb(org_id, cluster, self.client(cluster), self.database(cluster))
        if mapped is not None:  # an org never moves once mapped
            self._org_dbs[org_id] = org
        return org

    async def map_org(self, org_id: str, cluster: str) -> None:
        self.client(cluster)  # validates the name
        try:
            await self.infra[ORG_CLUSTERS].insert_one({"_id": org_id, "cluster": cluster})
        except DuplicateKeyError as exc:
            raise Conflict(f"Organization {org_id!r} already exists.", error_code="organization_exists") from exc
        self._org_cluster[org_id] = cluster

    async def unmap_org(self, org_id: str) -> None:
        await self.infra[ORG_CLUSTERS].delete_one({"_id": org_id})
        self._org_cluster.pop(org_id, None)
        self._org_dbs.pop(org_id, None)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        self._databases.clear()
        self._org_dbs.clear()


MAX_TRANSACTION_ATTEMPTS = 6
WRITE_CONFLICT = 112


def _transient(exc: PyMongoError) -> bool:
    return exc.has_error_label("TransientTransactionError") or (
        isinstance(exc, OperationFailure) and exc.code == WRITE_CONFLICT)


async def in_transaction(org: OrgDb, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    """Run `work` in one multi-document transaction, retried from the start (a few times, with jittered
    backoff) on a transient error such as a write conflict; 409 when the conflicts persist.

    Rules that read one document and write another (write skew) stay safe when both sides also write a
    document they share: the loser of that write conflict retries and then sees the winner's change."""
    async with org.client.start_session() as session:
        for attempt in range(MAX_TRANSACTION_ATTEMPTS):
            try:
                return await _attempt(session, work)
            except PyMongoError as exc:
                if not _transient(exc):
                    raise
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise Conflict("Too many concurrent changes to the same data; retry the request.",
                   error_code="concurrent_modification")


async def _attempt(session: AsyncClientSession, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    await session.start_transaction()
    try:
        result = await work(session)
    except BaseException:
        if session.in_transaction:
            await session.abort_transaction()
        raise
    for _ in range(3):
        try:
            await session.commit_transaction()
            return result
        except PyMongoError as exc:
            if not exc.has_error_label("UnknownTransactionCommitResult"):
                raise
    raise Conflict("The outcome of a write could not be confirmed; read the resource and retry.",
                   error_code="commit_unconfirmed")


def get_clusters(request: Request) -> Clusters:
    clusters: Clusters = request.app.state.clusters
    return clusters


ORG_ID_DESCRIPTION = "The ID of the organization: lowercase letters, digits, `-` and `_`, at most 63 characters."
# An organization that does not exist is 404 whatever the shape of its id (the lookup says so); only a new one's
# id is refused for its shape.
OrgId = Annotated[str, Path(description=ORG_ID_DESCRIPTION, json_schema_extra={"pattern": ORG_ID_PATTERN})]
NewOrgId = Annotated[str, Path(pattern=ORG_ID_PATTERN, description=ORG_ID_DESCRIPTION)]


ClusterHeader = Annotated[
    str | None,
    Header(description="Usually not needed unless the organization does not exist yet in the Amigo "
                       "organization infra config database."),
]


async def get_org_db(request: Request, organization: OrgId, x_mongo_cluster_name: ClusterHeader = None) -> OrgDb:
    return await get_clusters(request).org_db(organization, x_mongo_cluster_name)


OrgDbDep = Annotated[OrgDb, Depends(get_org_db)]
async def _clusters(request: Request) -> Clusters:
    return get_clusters(request)


ClustersDep = Annotated[Clusters, Depends(_clusters)]

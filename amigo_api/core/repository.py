"""A small async base repository over one collection that always scopes by organization."""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast

from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from amigo_api.core.db import Document, OrgDb
from amigo_api.core.sql_tables import DATA_VERSIONS, data_version_id, is_exposed

Sort = Sequence[tuple[str, int]]


def with_id(doc: Document) -> Document:
    """A stored document as the contract shows it: its `_id` also as `id`."""
    return {**doc, "id": doc["_id"]}


class OrgRepository:
    collection_name: ClassVar[str]
    indexes: ClassVar[list[IndexModel]] = []

    def __init__(self, org: OrgDb, session: AsyncClientSession | None = None) -> None:
        self.org = org
        self.session = session
        self.collection: AsyncCollection[Document] = org.db[self.collection_name]

    def scoped(self, query: Document | None = None) -> Document:
        return {**(query or {}), "org_id": self.org.org_id}

    async def find_one(self, query: Document, projection: Document | None = None) -> Document | None:
        return await self.collection.find_one(self.scoped(query), projection, session=self.session)

    async def find_all(self, query: Document, sort: Sort | None = None,
                       projection: Document | None = None) -> list[Document]:
        cursor = self.collection.find(self.scoped(query), projection, session=self.session)
        if sort:
            cursor = cursor.sort(list(sort))
        return await cursor.to_list()

    async def find_page(self, query: Document, *, sort: Sort, skip: int, limit: int,
                        projection: Document | None = None) -> tuple[list[Document], bool]:
        """One page plus whether more follow, by fetching one extra document instead of counting."""
        cursor = self.collection.find(self.scoped(query), projection, session=self.session)
        docs = await cursor.sort([*sort, ("_id", 1)]).skip(skip).limit(limit + 1).to_list()
        return docs[:limit], len(docs) > limit

    async def claim(self, query: Document) -> Document | None:
        """Read a document while writing to it, inside the caller's transaction: two transactions that claim
        the same document conflict, so rules checked across documents cannot interleave (no write skew)."""
        return await self.collection.find_one_and_update(self.scoped(query), {"$inc": {"claims": 1}},
                                                         session=self.session)

    async def distinct(self, field: str, query: Document) -> list[Any]:
        return list(await self.collection.distinct(field, self.scoped(query), session=self.session))

    async def count(self, query: Document) -> int:
        return await self.collection.count_documents(self.scoped(query), session=self.session)

    async def insert_one(self, doc: Document) -> Document:
        doc = {**doc, "org_id": self.org.org_id}
        await self.collection.insert_one(doc, session=self.session)
        await self._changed(1)
        return doc

    async def insert_many(self, docs: list[Document]) -> None:
        if docs:
            await self.collection.insert_many([{**d, "org_id": self.org.org_id} for d in docs],
                                              session=self.session)
            await self._changed(len(docs))

    async def update_one(self, query: Document, update: Document) -> bool:
        result = await self.collection.update_one(self.scoped(query), update, session=self.session)
        await self._changed(result.modified_count)
        return result.matched_count > 0

    async def update_many(self, query: Document, update: Document) -> int:
        result = await self.collection.update_many(self.scoped(query), update, session=self.session)
        await self._changed(result.modified_count)
        return result.modified_count

    async def delete_one(self, query: Document) -> bool:
        result = await self.collection.delete_one(self.scoped(query), session=self.session)
        await self._changed(result.deleted_count)
        return result.deleted_count > 0

    async def delete_many(self, query: Document) -> int:
        result = await self.collection.delete_many(self.scoped(query), session=self.session)
        await self._changed(result.deleted_count)
        return result.deleted_count

    async def _changed(self, count: int) -> None:
        """Count writes to collections the SQL endpoint exposes, so its cached snapshots know when to refresh."""
        if count == 0 or not is_exposed(self.collection_name):
            return
        versions = self.org.db[DATA_VERSIONS]
        key = {"_id": data_version_id(self.org.org_id, self.collection_name)}
        try:
            await versions.update_one(key, {"$inc": {"version": 1}}, upsert=True, session=self.session)
        except DuplicateKeyError:  # a concurrent first write created it; count again on the existing document
            await versions.update_one(key, {"$inc": {"version": 1}}, session=self.session)

    @classmethod
    async def ensure_indexes(cls, db: Any) -> None:
        if cls.indexes:
            await db[cls.collection_name].create_indexes(cls.indexes)


StoredT = TypeVar("StoredT", bound=Mapping[str, Any])


class TypedRepository(OrgRepository, Generic[StoredT]):
    """A repository whose documents have a declared stored shape (a `TypedDict`, kept apart from the API
    schemas): typed loads and stores over the untyped base. Projections still go through the base methods."""

    async def get(self, doc_id: str) -> StoredT | None:
        return cast(StoredT | None, await self.find_one({"_id": doc_id}))

    async def load_one(self, query: Document) -> StoredT | None:
        return cast(StoredT | None, await self.find_one(query))

    async def load_all(self, query: Document, sort: Sort | None = None) -> list[StoredT]:
        return cast(list[StoredT], await self.find_all(query, sort=sort))

    async def load_page(self, query: Document, *, sort: Sort, skip: int, limit: int) -> tuple[list[StoredT], bool]:
        docs, has_more = await self.find_page(query, sort=sort, skip=skip, limit=limit)
        return cast(list[StoredT], docs), has_more

    async def store(self, doc: StoredT) -> None:
        await self.insert_one(dict(doc))

    async def store_many(self, docs: Sequence[StoredT]) -> None:
        await self.insert_many([dict(d) for d in docs])

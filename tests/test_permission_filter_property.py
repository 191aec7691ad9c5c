"""Property: for any grants and documents, the MongoDB filter the grants become selects exactly the documents
the in-memory check allows. Runs against the real embedded database."""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient
from pymongo.collection import Collection

from amigo_api.core.permissions import PermissionGrant, allows, visibility_filter
from tests.conftest import RUN_ID

PERMISSION = "Service:GetService"
FIELDS = {"service_id": "_id", "service_name": "name", "tags": "tag_strings", "is_active": "is_active"}
IDS = [f"{i:024x}" for i in range(6)]
NAMES = ["alpha", "beta", "gamma", ""]
TAGS = ["team:a", "team:b", "team:secret", "env:", "env:prod"]

strings_of = {"service_id": st.sampled_from(IDS), "service_name": st.sampled_from(NAMES),
              "tags": st.sampled_from(TAGS)}


def condition(attribute: str) -> st.SearchStrategy[dict[str, Any]]:
    value = st.booleans() if attribute == "is_active" else strings_of[attribute]
    return st.one_of(
        st.builds(lambda v: {"type": "Equals", "value": v}, value),
        st.builds(lambda v: {"type": "NotEquals", "value": v}, value),
        st.builds(lambda vs: {"type": "In", "values": vs}, st.lists(value, min_size=1, max_size=3)),
    )


conditions = st.sets(st.sampled_from(sorted(FIELDS)), max_size=3).flatmap(
    lambda names: st.fixed_dictionaries({name: condition(name) for name in names}))
grants = st.lists(st.builds(lambda c: PermissionGrant.model_validate({"permission_name": PERMISSION,
                                                                     "conditions": c}), conditions),
                  max_size=3)
documents = st.lists(st.fixed_dictionaries({
    "_id": st.sampled_from(IDS), "name": st.sampled_from(NAMES),
    "tag_strings": st.lists(st.sampled_from(TAGS), max_size=3, unique=True), "is_active": st.booleans(),
}), max_size=6, unique_by=lambda d: d["_id"])


@pytest.fixture(scope="module")
def collection(mongo_server: str) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_server)
    database = f"permission_property_{RUN_ID}"
    yield client[database]["services"]
    client.drop_database(database)
    client.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grants=grants, docs=documents)
def test_filter_and_in_memory_check_agree(collection: Collection[dict[str, Any]], grants: list[PermissionGrant],
                                          docs: list[dict[str, Any]]) -> None:
    collection.delete_many({})
    if docs:
        collection.insert_many([dict(d) for d in docs])
    selected = {d["_id"] for d in collection.find(visibility_filter(grants, PERMISSION, FIELDS), {"_id": 1})}
    allowed = {d["_id"] for d in docs if allows(grants, PERMISSION, {
        attribute: d[field] for attribute, field in FIELDS.items()})}
    assert selected == allowed

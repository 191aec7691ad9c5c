"""The permission engine: conditions, visibility filters, and the role ordering."""

from amigo_api.core.permissions import (
    EqualCondition,
    InCondition,
    NotEqualCondition,
    PermissionGrant,
    allows,
    outranks,
    role_covers,
    unconditional,
    visibility_filter,
)
from amigo_api.organizations.defaults import default_roles


def grant(name: str, **conditions: object) -> PermissionGrant:
    return PermissionGrant.model_validate({"permission_name": name, "conditions": conditions})


def test_conditions_on_scalar_and_list_attributes() -> None:
    g = grant("Service:GetService", tags={"type": "In", "values": ["team:a", "team:b"]})
    assert allows([g], "Service:GetService", {"tags": ["team:a", "env:prod"]})
    assert not allows([g], "Service:GetService", {"tags": ["team:c"]})
    assert not allows([g], "Service:GetService", {})  # missing attribute fails closed
    assert not allows([g], "Service:CreateService", {"tags": ["team:a"]})
    ne = grant("User:GetUserInfo", user_id={"type": "NotEquals", "value": "u1"})
    assert allows([ne], "User:GetUserInfo", {"user_id": "u2"})
    assert not allows([ne], "User:GetUserInfo", {"user_id": "u1"})


def test_visibility_filter_ors_grants_and_ands_conditions() -> None:
    fields = {"tags": "tag_strings", "service_id": "_id"}
    assert visibility_filter(unconditional(["A:B"]), "A:B", fields) == {}
    assert visibility_filter([], "A:B", fields) == {"_id": {"$in": []}}
    both = [grant("A:B", tags={"type": "Equals", "value": "team:a"}),
            grant("A:B", service_id={"type": "In", "values": ["x"]}, tags={"type": "NotEquals", "value": "t:z"})]
    assert visibility_filter(both, "A:B", fields) == {"$or": [
        {"tag_strings": "team:a"}, {"$and": [{"_id": {"$in": ["x"]}}, {"tag_strings": {"$ne": "t:z"}}]}]}
    unmapped = [grant("A:B", owner={"type": "Equals", "value": "me"})]
    assert visibility_filter(unmapped, "A:B", fields) == {"_id": {"$in": []}}


def test_coverage_between_conditions() -> None:
    wide = grant("A:B", k={"type": "In", "values": [1, 2, 3]})
    narrow = grant("A:B", k={"type": "Equals", "value": 2})
    anything = grant("A:B")
    not_four = grant("A:B", k={"type": "NotEquals", "value": 4})
    assert role_covers([wide], [narrow]) and not role_covers([narrow], [wide])
    assert role_covers([anything], [wide]) and not role_covers([wide], [anything])
    assert role_covers([not_four], [wide]) and not role_covers([not_four], [grant("A:B", k=EqualCondition(value=4))])
    assert role_covers([not_four], [grant("A:B", k=NotEqualCondition(value=4))])
    assert not role_covers([wide], [grant("A:B", k=InCondition(values=[3, 4]))])


def test_default_roles_are_strictly_ordered_and_top_outranks_itself() -> None:
    grants = [g for _, _, _, g in default_roles()]
    for lower, higher in zip(grants, grants[1:], strict=False):
        assert outranks(higher, lower)
        assert not outranks(lower, higher)
    admin = grants[1]
    assert not outranks(admin, admin)  # an administrator cannot act on administrators
    assert outranks(grants[-1], grants[-1])  # nothing can rank above the top role

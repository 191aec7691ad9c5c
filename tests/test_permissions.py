"""The permission engine: conditions, visibility filters, and the role ordering."""

import pytest
from pydantic import ValidationError

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
from amigo_api.roles.defaults import default_roles


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
    get = "Service:GetService"
    assert visibility_filter(unconditional([get]), get, fields) == {}
    assert visibility_filter([], get, fields) == {"_id": {"$in": []}}
    both = [grant(get, tags={"type": "Equals", "value": "team:a"}),
            grant(get, service_id={"type": "In", "values": ["x"]}, tags={"type": "NotEquals", "value": "t:z"})]
    assert visibility_filter(both, get, fields) == {"$or": [
        {"tag_strings": {"$eq": "team:a"}}, {"$and": [{"_id": {"$in": ["x"]}}, {"tag_strings": {"$ne": "t:z"}}]}]}
    unmapped = [grant(get, service_name={"type": "Equals", "value": "me"})]
    assert visibility_filter(unmapped, get, fields) == {"_id": {"$in": []}}


def test_condition_values_are_typed_scalars_of_the_resources_attributes() -> None:
    refused: list[tuple[str, dict[str, object]]] = [
        ("Service:GetService", {"tags": {"type": "Equals", "value": {"$ne": None}}}),
        ("Service:GetService", {"tags": {"type": "Equals", "value": {"$exists": True}}}),
        ("Role:GetRole", {"role_name": {"type": "Equals", "value": {"$gt": ""}}}),
        ("Service:GetService", {"tags": {"type": "In", "values": [{"$where": "1"}]}}),
        ("Service:GetService", {"tags": {"type": "In", "values": []}}),
        ("Service:GetService", {"is_active": {"type": "Equals", "value": 1}}),
        ("Service:GetService", {"is_active": {"type": "Equals", "value": "true"}}),
        ("Service:GetService", {"service_id": {"type": "Equals", "value": True}}),
        ("Service:GetService", {"service_id": {"type": "Equals", "value": 7}}),
        ("Service:GetService", {"owner": {"type": "Equals", "value": "me"}}),
        ("Admin:GetModels", {"model": {"type": "Equals", "value": "x"}}),
        ("User:GetUserInfo", {"email": {"type": "Equals", "value": "a" * 513}}),
        ("User:GetUserInfo", {"email": {"type": "Equals", "value": "a", "extra": 1}}),
    ]
    for name, conditions in refused:
        with pytest.raises(ValidationError):
            grant(name, **conditions)
    assert grant("Service:GetService", is_active={"type": "Equals", "value": True})
    assert grant("Service:UpdateVersionSet", version_set_name={"type": "In", "values": ["release"]})


def test_a_boolean_never_equals_a_number() -> None:
    active = grant("Service:GetService", is_active={"type": "Equals", "value": True})
    assert allows([active], "Service:GetService", {"is_active": True})
    assert not allows([active], "Service:GetService", {"is_active": 1})
    assert not allows([active], "Service:GetService", {"is_active": "True"})


def test_coverage_between_conditions() -> None:
    def on_name(condition: object) -> PermissionGrant:
        return grant("Role:GetRole", role_name=condition)

    wide = on_name({"type": "In", "values": ["a", "b", "c"]})
    narrow = on_name({"type": "Equals", "value": "b"})
    anything = grant("Role:GetRole")
    not_d = on_name({"type": "NotEquals", "value": "d"})
    assert role_covers([wide], [narrow]) and not role_covers([narrow], [wide])
    assert role_covers([anything], [wide]) and not role_covers([wide], [anything])
    assert role_covers([not_d], [wide]) and not role_covers([not_d], [on_name(EqualCondition(value="d"))])
    assert role_covers([not_d], [on_name(NotEqualCondition(value="d"))])
    assert not role_covers([wide], [on_name(InCondition(values=["c", "d"]))])


def test_on_tags_an_allowed_tag_does_not_fit_inside_a_refused_one() -> None:
    """A service tagged both team:a and team:secret: `tags Equals team:a` sees it, `tags NotEquals team:secret`
    does not, so the second role does not cover the first."""
    not_secret = grant("Service:GetService", tags={"type": "NotEquals", "value": "team:secret"})
    team_a = grant("Service:GetService", tags={"type": "Equals", "value": "team:a"})
    assert not role_covers([not_secret], [team_a])
    assert allows([team_a], "Service:GetService", {"tags": ["team:a", "team:secret"]})
    assert not allows([not_secret], "Service:GetService", {"tags": ["team:a", "team:secret"]})


def test_default_roles_are_strictly_ordered_and_top_outranks_itself() -> None:
    grants = [g for _, _, _, g in default_roles()]
    for lower, higher in zip(grants, grants[1:], strict=False):
        assert outranks(higher, lower)
        assert not outranks(lower, higher)
    admin = grants[1]
    assert not outranks(admin, admin)  # an administrator cannot act on administrators
    assert outranks(grants[-1], grants[-1])  # nothing can rank above the top role

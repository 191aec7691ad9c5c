"""Tool inputs are checked against the version's input schema in the API process; both are the tenant's, so the
schema's regular expressions run on RE2: linear time, whatever the pattern and the input."""

import pytest

from amigo_api.core.errors import InvalidRequest
from amigo_api.tools.inputs import InvalidToolInput, check_schema, validate_inputs

CATASTROPHIC = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}},
                "patternProperties": {"^(x+x+)+y$": {"type": "integer"}}}


def test_patterns_that_backtrack_for_ever_in_python_answer_at_once() -> None:
    check_schema(CATASTROPHIC)
    with pytest.raises(InvalidToolInput, match=r"inputs\[0\].input_parameters.code: .* does not match"):
        validate_inputs(CATASTROPHIC, [{"code": "a" * 100 + "!"}])  # 2**100 steps for Python's re
    with pytest.raises(InvalidToolInput, match=r"inputs\[1\].input_parameters.xxxxxxxxxxxxxxxxxxxxxxxxxy"):
        validate_inputs(CATASTROPHIC, [{"code": "aaa"}, {"x" * 25 + "y": "not an integer", "x" * 100: 1}])
    validate_inputs(CATASTROPHIC, [{"code": "aaaa", "xxy": 3}])


def test_patterns_re2_cannot_run_are_refused_when_published() -> None:
    for pattern in ("^(?=a)b", "(a)\\1", "(?<!x)y"):
        with pytest.raises(InvalidRequest, match="pattern RE2 cannot run"):
            check_schema({"type": "object", "properties": {"v": {"type": "string", "pattern": pattern}}})
    with pytest.raises(InvalidToolInput, match="RE2 cannot run"):  # a version published before the check
        validate_inputs({"properties": {"v": {"pattern": "^(?=a)b"}}}, [{"v": "b"}])

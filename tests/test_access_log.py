"""The access log: one JSON line per request with the fields of every other log line, or a sample of them."""

import json

import pytest

from amigo_api.core.observability import AccessLog


def test_one_json_line_per_request(capsys: pytest.CaptureFixture[str]) -> None:
    AccessLog("INFO", True, 1.0).write("GET", '/v1/acme/user/"quoted"', 200, 0.00123, "abc")
    line = capsys.readouterr().err
    assert line.endswith("\n") and line.count("\n") == 1
    record = json.loads(line)
    assert record.pop("timestamp").endswith("Z")
    assert record == {"method": "GET", "path": '/v1/acme/user/"quoted"', "status": 200, "duration_ms": 1.23,
                      "event": "request", "request_id": "abc", "level": "info"}


def test_a_sample_rate_of_zero_or_a_higher_level_turns_access_lines_off(capsys: pytest.CaptureFixture[str]) -> None:
    for log in (AccessLog("INFO", True, 0.0), AccessLog("WARNING", True, 1.0)):
        for _ in range(100):
            log.write("GET", "/v1/acme/user/", 200, 0.001, "abc")
    assert capsys.readouterr().err == ""


def test_sampling_keeps_a_share_and_every_server_error(capsys: pytest.CaptureFixture[str]) -> None:
    log = AccessLog("INFO", True, 0.1)
    for _ in range(2000):
        log.write("GET", "/v1/acme/user/", 200, 0.001, "abc")
    kept = capsys.readouterr().err.count("\n")
    assert 100 < kept < 320
    for _ in range(10):
        log.write("GET", "/v1/acme/user/", 503, 0.001, "abc")
    assert capsys.readouterr().err.count("\n") == 10

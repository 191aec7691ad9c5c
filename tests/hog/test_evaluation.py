"""`run_hog_eval`'s rules (reference §6.3): the program's globals and how its result becomes a verdict."""

from amigo_api.hog.evaluation import HogVerdict, run_hog_eval

GENERATION = {"uuid": "u1", "event": "$ai_generation", "distinct_id": "d1", "properties": {
    "$ai_model": "gpt", "$ai_input": [{"role": "user", "content": "hi"}], "$ai_output_choices": [],
    "$ai_output": "hello there"}}


def test_the_globals() -> None:
    verdict = run_hog_eval("print(input); print(output); print(event.distinct_id, properties.$ai_model)\n"
                           "return length(output) > 0", GENERATION, allows_na=False)
    assert verdict == HogVerdict(True, None, '[{"role": "user", "content": "hi"}]\nhello there\nd1 gpt', None)
    assert run_hog_eval("return person", GENERATION, False).error == "Runtime error: Global variable not found: person"


def test_verdicts() -> None:
    assert run_hog_eval("return false", GENERATION, allows_na=True) == HogVerdict(False, True, "", None)
    assert run_hog_eval("return null", GENERATION, allows_na=True) == HogVerdict(None, False, "", None)
    assert run_hog_eval("print('x')", GENERATION, allows_na=False) == HogVerdict(
        None, None, "x", "Must return boolean, got NoneType: None")
    assert run_hog_eval("return 42", GENERATION, allows_na=True).error == \
        "Must return boolean (or null if N/A is enabled), got int: 42"
    failed = run_hog_eval("print('lost'); throw Error('no')", GENERATION, allows_na=False)
    assert failed == HogVerdict(None, None, "", "Runtime error: Error('no')")


def test_other_events_use_their_states() -> None:
    event = {"event": "$ai_trace", "properties": '{"$ai_input_state": {"q": 1}, "$ai_output_state": "done"}'}
    assert run_hog_eval("return input = '{\"q\": 1}' and output = 'done'", event, False).verdict is True

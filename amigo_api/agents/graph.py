"""The rules a state machine version must satisfy beyond its schema; each refusal names the state.

`external_states` maps every reference name to the state names of the referenced version, so a transition
`["ref.state", "jumpback"]` can be checked without touching the database here."""

from collections.abc import Iterator, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from amigo_api.agents import schemas as s
from amigo_api.core.errors import InvalidRequest


class InvalidStateMachine(InvalidRequest):
    error_code = "invalid_state_machine"


def _transitions(state: s.State) -> Iterator[s.NextState]:
    if isinstance(state, s.ActionState | s.DecisionState):
        yield from (condition.next_state for condition in state.exit_conditions)
    else:
        yield state.next_state


def _tool_specs(state: s.State) -> Iterator[s.ToolCallSpec]:
    if isinstance(state, s.ActionState):
        yield from state.action_tool_call_specs
        yield from state.exit_condition_tool_call_specs
    elif isinstance(state, s.ToolCallState):
        yield state.designated_tool
        yield from state.tool_call_specs
    elif isinstance(state, s.DecisionState | s.ReflectionState):
        yield from state.tool_call_specs


def _check_transition(state: s.State, target: s.NextState, names: set[str],
                      external_states: Mapping[str, set[str]]) -> None:
    if isinstance(target, str):
        if target not in names:
            raise InvalidStateMachine(f"State {state.name!r} transitions to {target!r}, which is not a state.")
        if target == state.name:
            raise InvalidStateMachine(f"State {state.name!r} cannot transition to itself.")
        return
    external, jumpback = target
    reference, external_state = external.split(".", 1)
    if reference not in external_states:
        raise InvalidStateMachine(f"State {state.name!r} transitions to {external!r}, but {reference!r} is not "
                                  "in `references`.")
    if external_state not in external_states[reference]:
        raise InvalidStateMachine(f"State {state.name!r} transitions to {external!r}, but the referenced state "
                                  f"machine has no state {external_state!r}.")
    if jumpback not in names:
        raise InvalidStateMachine(f"State {state.name!r} jumps back to {jumpback!r}, which is not a state.")


def _check_tool_specs(state: s.State) -> None:
    for spec in _tool_specs(state):
        try:
            SpecifierSet(spec.version_constraint)
        except InvalidSpecifier as exc:
            raise InvalidStateMachine(
                f"State {state.name!r}: tool {spec.tool_id} has version constraint {spec.version_constraint!r}, "
                "which is not a PEP 440 version specifier (for example `>=1.2,<2` or `~=1.4`).") from exc


def _check_entry_states(body: s.StateMachineBody, by_name: Mapping[str, s.State]) -> None:
    for role in ("new_user_initial_state", "returning_user_initial_state", "terminal_state"):
        name = getattr(body, role)
        if name not in by_name:
            raise InvalidStateMachine(f"`{role}` names {name!r}, which is not a state.")
        if not isinstance(by_name[name], s.ActionState):
            raise InvalidStateMachine(f"`{role}` names {name!r}, which must be an action state.")
    terminal = by_name[body.terminal_state]
    assert isinstance(terminal, s.ActionState)
    if terminal.exit_conditions or len(terminal.actions) != 1:
        raise InvalidStateMachine(f"Terminal state {terminal.name!r} must have no exit conditions and exactly "
                                  "one action.")


def validate_graph(body: s.StateMachineBody, external_states: Mapping[str, set[str]]) -> None:
    by_name: dict[str, s.State] = {}
    for state in body.states:
        if state.name in by_name:
            raise InvalidStateMachine(f"State {state.name!r} is defined more than once.")
        by_name[state.name] = state
    _check_entry_states(body, by_name)
    names = set(by_name)
    for state in body.states:
        if isinstance(state, s.RecallState) and (state.queries is None) == (state.requested_information is None):
            raise InvalidStateMachine(f"Recall state {state.name!r} needs exactly one of `queries` and "
                                      "`requested_information`.")
        for target in _transitions(state):
            _check_transition(state, target, names, external_states)
        _check_tool_specs(state)

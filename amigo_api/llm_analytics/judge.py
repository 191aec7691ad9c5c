"""What the LLM judge is asked and how its answer is read (reference §8): a system prompt embedding the user's
criteria, the generation as `Input: ...` / `Output: ...` text (the same flattening `test_hog` previews), and a
structured answer, `{reasoning, verdict}` or, with N/A allowed, `{reasoning, applicable, verdict}`."""

from dataclasses import dataclass
from typing import Any

from amigo_api.llm_analytics.providers import ProviderError
from amigo_api.llm_analytics.text import flatten

ROLE = "You are an evaluator. Judge the following LLM generation against the criteria below."
PLAIN_INSTRUCTIONS = "Give a brief, one-sentence reasoning and a boolean verdict: true if the generation meets " \
                     "the criteria, false if it does not."
NA_INSTRUCTIONS = ("First decide whether the criteria apply to this input and output. If they do not, it is not "
                   "applicable: set applicable to false and verdict to null. If the criteria themselves say to "
                   "answer \"N/A\" or \"not applicable\" in a case, treat that case as applicable=false with "
                   "verdict=null. Otherwise set applicable to true and give a boolean verdict. Always give a "
                   "one-sentence reasoning.")
PLAIN_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["reasoning", "verdict"],
                "properties": {"reasoning": {"type": "string"}, "verdict": {"type": "boolean"}}}
NA_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["reasoning", "applicable", "verdict"],
             "properties": {"reasoning": {"type": "string"}, "applicable": {"type": "boolean"},
                            "verdict": {"type": ["boolean", "null"]}}}


@dataclass(frozen=True)
class Verdict:
    verdict: bool | None
    reasoning: str
    applicable: bool | None  # set when N/A is allowed


def system_prompt(criteria: str, allows_na: bool) -> str:
    return f"{ROLE}\n\n{criteria.strip()}\n\n{NA_INSTRUCTIONS if allows_na else PLAIN_INSTRUCTIONS}"


def user_prompt(given_input: Any, given_output: Any) -> str:
    return f"Input: {flatten(given_input)}\n\nOutput: {flatten(given_output)}"


def schema(allows_na: bool) -> dict[str, Any]:
    return NA_SCHEMA if allows_na else PLAIN_SCHEMA


def read_verdict(answer: dict[str, Any], allows_na: bool) -> Verdict:
    """The structured answer, checked: `applicable` true needs a verdict, false needs none. Anything else is a
    `parse_error` (the run is skipped)."""
    reasoning, verdict = answer.get("reasoning"), answer.get("verdict")
    if not isinstance(reasoning, str):
        raise ProviderError("parse_error", "The judge's answer has no reasoning.")
    if not allows_na:
        if not isinstance(verdict, bool):
            raise ProviderError("parse_error", "The judge's verdict is not a boolean.")
        return Verdict(verdict, reasoning, None)
    applicable = answer.get("applicable")
    if not isinstance(applicable, bool) or (applicable and not isinstance(verdict, bool)) or (
            not applicable and verdict is not None):
        raise ProviderError("parse_error", "The judge's applicable and verdict do not agree.")
    return Verdict(verdict, reasoning, applicable)

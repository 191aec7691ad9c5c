"""How tool workflows end when an activity refuses: activities raise a non-retryable `ToolRequestRejected`
error carrying the HTTP status and error code; workflows turn it (or an activity that failed for good) into a
`Refusal` the API answers with. Temporal only: workflow modules import this, never activity code."""

from dataclasses import dataclass

from temporalio.exceptions import ActivityError, ApplicationError

REJECTED = "ToolRequestRejected"


def rejection(status: int, error_code: str, message: str) -> ApplicationError:
    return ApplicationError(message, status, error_code, type=REJECTED, non_retryable=True)


@dataclass
class Refusal:
    status: int
    error_code: str
    message: str


def refusal_of(error: ActivityError, doing: str) -> Refusal:
    """The refusal an activity raised, or 503 when the runner itself failed (`doing`: what it was doing)."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == REJECTED and len(cause.details) == 2:
        status, error_code = cause.details
        return Refusal(int(status), str(error_code), cause.message)
    return Refusal(503, "tool_runner_failed", f"The tool runner stopped while {doing} ({cause or error}); "
                                              "try again.")

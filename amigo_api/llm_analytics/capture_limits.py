"""The limits a capture request is read within (docs/llm-analytics.md, "Limits"), and the refusal beyond them."""

from dataclasses import dataclass

from amigo_api.core.errors import AmigoError

MiB = 1024 * 1024


@dataclass(frozen=True)
class CaptureLimits:
    body_bytes: int  # the body as sent, compressed or not
    inflated_bytes: int  # its JSON text after decompression
    event_bytes: int  # one event's JSON text; the envelope around the batch counts as one event
    events: int = 10_000
    event_values: int = 100_000  # JSON values in one event (elements and members, nested ones included)
    depth: int = 64  # nesting of objects and arrays in one event


# PostHog's capture takes 20 MiB batches and about 1 MB per event; the AI lane carries larger generations.
BATCH_LIMITS = CaptureLimits(body_bytes=20 * MiB, inflated_bytes=20 * MiB, event_bytes=1 * MiB)
AI_LIMITS = CaptureLimits(body_bytes=25 * MiB, inflated_bytes=25 * MiB, event_bytes=4 * MiB)


class TooLarge(AmigoError):
    status_code = 413
    error_code = "request_too_large"

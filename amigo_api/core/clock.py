"""One place that says what time it is, so tests and rules agree."""

import re
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    # MongoDB stores milliseconds; truncating here keeps written and read values equal.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(value: datetime) -> datetime:
    """Datetimes read back from MongoDB are naive UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_iso_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration made of weeks, days, hours, minutes and seconds.

    Years and months are refused: their length depends on the calendar."""
    match = _DURATION.match(text.strip().upper())
    if not match:
        raise ValueError(
            f"{text!r} is not an ISO-8601 duration such as 'P30D' or 'PT12H' (years and months are not accepted)"
        )
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)

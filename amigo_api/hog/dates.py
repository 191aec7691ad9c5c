"""Hog's dates (reference §7.4): a datetime is `{__hogDateTime__: true, dt: <epoch seconds>, zone}`, a date
`{__hogDate__: true, year, month, day}`. Strings parse by one strict grammar (`2024-01-02`, optionally with a
time, fractions and an offset), anchored to UTC (or the zone asked for) when they carry no offset, so the
answer never depends on the host's timezone."""

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from amigo_api.hog.values import HogRuntimeError, is_date, is_datetime

Function = Callable[[Any, list[Any]], Any]
DATE_LIKE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([01][0-9]|2[0-3]):([0-5][0-9])"
    r"(?::([0-5][0-9])(?:[.,]([0-9]{1,9}))?)?(Z|z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?)?")
# ClickHouse's formatDateTime tokens as strftime's.
FORMAT_TOKENS = {"a": "%a", "b": "%b", "c": "%m", "C": "%y", "d": "%d", "D": "%m/%d/%y", "e": "%d", "f": "%f",
                 "F": "%Y-%m-%d", "g": "%y", "G": "%Y", "h": "%I", "H": "%H", "i": "%M", "I": "%I", "j": "%j",
                 "k": "%H", "l": "%I", "m": "%m", "M": "%B", "n": "\n", "p": "%p", "r": "%I:%M %p", "R": "%H:%M",
                 "s": "%S", "S": "%S", "t": "\t", "T": "%H:%M:%S", "u": "%u", "V": "%V", "w": "%w", "W": "%A",
                 "y": "%y", "Y": "%Y", "z": "%z", "%": "%%"}
UNITS = ("second", "minute", "hour", "day", "week", "month", "year")
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def zone_of(name: Any) -> tzinfo:
    if name in (None, "UTC"):
        return UTC
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise HogRuntimeError(f"Unknown time zone: {name}") from error


def new_datetime(seconds: float, zone: str = "UTC") -> dict[str, Any]:
    return {"__hogDateTime__": True, "dt": seconds, "zone": zone}


def new_date(day: date) -> dict[str, Any]:
    return {"__hogDate__": True, "year": day.year, "month": day.month, "day": day.day}


def parse(text: Any, zone: Any = None) -> datetime | None:
    match = DATE_LIKE.fullmatch(str(text).strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int(fraction[:3].ljust(3, "0")) * 1000 if fraction else 0
    if offset in ("Z", "z"):
        where: tzinfo = UTC
    elif offset:
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        where = timezone(-delta if offset[0] == "-" else delta)
    else:
        where = zone_of(zone)
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro,
                        tzinfo=where)
    except ValueError:
        return None


def local(value: Any) -> datetime:
    """A date or datetime as an aware Python datetime, in its own zone."""
    if is_datetime(value):
        return datetime.fromtimestamp(value["dt"], zone_of(value.get("zone")))
    if is_date(value):
        return datetime(value["year"], value["month"], value["day"], tzinfo=UTC)
    if isinstance(value, str) and (parsed := parse(value)) is not None:
        return parsed
    raise HogRuntimeError("Expected a Date or DateTime")


def _same_kind(original: Any, moved: datetime) -> dict[str, Any]:
    return new_date(moved.date()) if is_date(original) else new_datetime(moved.timestamp(), original["zone"])


def add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    for day in range(moment.day, 0, -1):  # the 31st of a shorter month is its last day
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise HogRuntimeError("Invalid date")


def date_add(unit: Any, amount: Any, value: Any) -> dict[str, Any]:
    if unit not in UNITS or not isinstance(amount, int | float) or isinstance(amount, bool):
        raise HogRuntimeError(f"Unsupported interval unit: {unit}")
    moment = local(value)
    if unit in ("month", "year"):
        moved = add_months(moment, int(amount) * (12 if unit == "year" else 1))
    else:
        moved = datetime.fromtimestamp(moment.timestamp() + amount * SECONDS[unit], moment.tzinfo)
    return _same_kind(value, moved)


def date_diff(unit: Any, start: Any, end: Any) -> int:
    first, last = local(start), local(end)
    if unit == "month":
        return (last.year - first.year) * 12 + last.month - first.month
    if unit == "year":
        return last.year - first.year
    if unit not in SECONDS:
        raise HogRuntimeError(f"Unsupported unit for dateDiff: {unit}")
    return int((last - first).total_seconds() // SECONDS[unit])


def date_trunc(unit: Any, value: Any) -> dict[str, Any]:
    moment = local(value)
    if unit == "week":
        moment = moment - timedelta(days=moment.weekday())
        unit = "day"
    # What each unit keeps: the fields below it go to their start.
    kept = {"year": 1, "month": 2, "day": 3, "hour": 4, "minute": 5}.get(str(unit))
    if kept is None:
        raise HogRuntimeError(f"Unsupported unit for dateTrunc: {unit}")
    parts = [moment.year, moment.month, moment.day, moment.hour, moment.minute]
    starts = [moment.year, 1, 1, 0, 0]
    truncated = datetime(*parts[:kept], *starts[kept:], tzinfo=moment.tzinfo)  # type: ignore[arg-type,misc]
    zone = value["zone"] if is_datetime(value) else "UTC"
    return new_datetime(truncated.timestamp(), zone)


def format_datetime(value: Any, pattern: Any, zone: Any = None) -> str:
    if not is_datetime(value):
        raise HogRuntimeError("Expected a DateTime")
    text, parts, index = str(pattern), [], 0
    while index < len(text):
        if text[index] == "%":
            parts.append(FORMAT_TOKENS.get(text[index + 1: index + 2], ""))
            index += 2
        else:
            parts.append(text[index].replace("%", "%%"))
            index += 1
    return datetime.fromtimestamp(value["dt"], zone_of(zone or value["zone"])).strftime("".join(parts))


def to_unix(value: Any, zone: Any = None) -> float:
    if is_datetime(value):
        return float(value["dt"])
    if is_date(value):
        return datetime(value["year"], value["month"], value["day"], tzinfo=zone_of(zone)).timestamp()
    parsed = parse(value, zone)
    if parsed is None:
        raise HogRuntimeError(f"Could not parse date: {value}")
    return parsed.timestamp()


def to_datetime(value: Any) -> dict[str, Any] | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return new_datetime(float(value))
    parsed = parse(value) if isinstance(value, str) else None
    return None if parsed is None else new_datetime(parsed.timestamp())


def to_date(value: Any) -> dict[str, Any] | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return new_date(datetime.fromtimestamp(value, UTC).date())
    parsed = parse(value) if isinstance(value, str) else None
    return None if parsed is None else new_date(parsed.date())


def date_part(part: Any, value: Any) -> int:
    moment = local(value)
    if part not in ("year", "month", "day", "hour", "minute", "second"):
        raise HogRuntimeError(f"Unknown extract part: {part}")
    return int(getattr(moment, part))


def _arg(args: list[Any], index: int) -> Any:
    return args[index] if index < len(args) else None


def _interval(unit: str) -> Function:
    return lambda r, a: {"__hogInterval__": True, "value": _arg(a, 0), "unit": unit}


DATE_FUNCTIONS: dict[str, Function] = {
    "now": lambda r, a: new_datetime(time.time(), str(_arg(a, 0) or "UTC")),
    "today": lambda r, a: new_date(datetime.now(UTC).date()),
    "toDateTime": lambda r, a: to_datetime(_arg(a, 0)),
    "toDate": lambda r, a: to_date(_arg(a, 0)),
    "toUnixTimestamp": lambda r, a: to_unix(_arg(a, 0), _arg(a, 1)),
    "toUnixTimestampMilli": lambda r, a: int(to_unix(_arg(a, 0), _arg(a, 1)) * 1000),
    "fromUnixTimestamp": lambda r, a: new_datetime(_arg(a, 0)),
    "fromUnixTimestampMilli": lambda r, a: new_datetime(float(_arg(a, 0)) / 1000),
    "toTimeZone": lambda r, a: {**a[0], "zone": str(zone_of(_arg(a, 1)))} if is_datetime(_arg(a, 0)) else None,
    "formatDateTime": lambda r, a: r.text(format_datetime(_arg(a, 0), _arg(a, 1), _arg(a, 2))),
    "dateAdd": lambda r, a: date_add(_arg(a, 0), _arg(a, 1), _arg(a, 2)),
    "addDays": lambda r, a: date_add("day", _arg(a, 1), _arg(a, 0)),
    "dateDiff": lambda r, a: date_diff(_arg(a, 0), _arg(a, 1), _arg(a, 2)),
    "dateTrunc": lambda r, a: date_trunc(_arg(a, 0), _arg(a, 1)),
    "toStartOfDay": lambda r, a: date_trunc("day", _arg(a, 0)),
    "toStartOfHour": lambda r, a: date_trunc("hour", _arg(a, 0)),
    "toStartOfMonth": lambda r, a: date_trunc("month", _arg(a, 0)),
    "toStartOfWeek": lambda r, a: date_trunc("week", _arg(a, 0)),
    "toYear": lambda r, a: date_part("year", _arg(a, 0)),
    "toMonth": lambda r, a: date_part("month", _arg(a, 0)),
    "toYYYYMM": lambda r, a: date_part("year", _arg(a, 0)) * 100 + date_part("month", _arg(a, 0)),
    "toIntervalDay": _interval("day"), "toIntervalHour": _interval("hour"),
    "toIntervalMinute": _interval("minute"), "toIntervalMonth": _interval("month"),
}

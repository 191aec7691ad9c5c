"""The whole standard library: the core (`stdlib.py`), dates (`dates.py`), and hashing, identifiers, error
types and the rest of PostHog's list (reference §7.4). `run` and `sleep` are left out on purpose: they block
or query, and fail as unsupported calls."""

import base64
import hashlib
import hmac
import ipaddress
import random
import re
import urllib.parse
import uuid
from typing import Any

from amigo_api.hog.dates import DATE_FUNCTIONS, date_part
from amigo_api.hog.runtime import Runtime
from amigo_api.hog.stdlib import FUNCTIONS as CORE
from amigo_api.hog.stdlib import Function, extract_regex, json_path
from amigo_api.hog.values import HogRuntimeError, equals, is_date, is_datetime

BROKEN_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def _arg(args: list[Any], index: int) -> Any:
    return args[index] if index < len(args) else None


def _digest(name: str, data: Any, encoding: Any = "hex") -> str | None:
    if data is None:
        return None
    digest = HASHES[name](str(data).encode())
    return base64.b64encode(digest.digest()).decode() if encoding == "base64" else digest.hexdigest()


def _hmac_chain(name: str, data: Any, encoding: Any = "hex") -> str:
    if not isinstance(data, list) or len(data) < 2:
        raise HogRuntimeError("Data array must contain at least two elements.")
    mac = hmac.new(str(data[0]).encode(), str(data[1]).encode(), HASHES[name])
    for part in data[2:]:
        mac = hmac.new(mac.digest(), str(part).encode(), HASHES[name])
    return base64.b64encode(mac.digest()).decode() if encoding == "base64" else mac.hexdigest()


def _try_decode(value: Any) -> Any:
    if not value:
        return value
    return None if BROKEN_ESCAPE.search(str(value)) else urllib.parse.unquote(str(value))


def _in_range(address: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address)) in ipaddress.ip_network(str(network), strict=False)
    except ValueError:
        return False


def _extract(runtime: Runtime, args: list[Any]) -> Any:
    """`extract('year', date)` is a date part (as in PostHog's list); `extract(text, regex)` the regex match."""
    if is_date(_arg(args, 1)) or is_datetime(_arg(args, 1)):
        return date_part(args[0], args[1])
    return extract_regex(runtime, args)


def _error(error_type: str) -> Function:
    return lambda r, a: r.error_value(error_type, _arg(a, 0), _arg(a, 1))


def _json_extract(runtime: Runtime, args: list[Any]) -> Any:
    """`JSONExtract(json, ...path, type)`: the last argument names a type and is ignored."""
    found, value = json_path(args[:-1] if len(args) > 2 else args[:1])
    return value if found else None


MORE: dict[str, Function] = {
    "md5": lambda r, a: _digest("md5", _arg(a, 0), _arg(a, 1) or "hex"),
    "sha1": lambda r, a: _digest("sha1", _arg(a, 0), _arg(a, 1) or "hex"),
    "sha256": lambda r, a: _digest("sha256", _arg(a, 0), _arg(a, 1) or "hex"),
    "md5Hex": lambda r, a: _digest("md5", _arg(a, 0)),
    "sha1Hex": lambda r, a: _digest("sha1", _arg(a, 0)),
    "sha256Hex": lambda r, a: _digest("sha256", _arg(a, 0)),
    "sha1HmacChain": lambda r, a: _hmac_chain("sha1", _arg(a, 0), _arg(a, 1) or "hex"),
    "sha1HmacChainHex": lambda r, a: _hmac_chain("sha1", _arg(a, 0)),
    "sha256HmacChain": lambda r, a: _hmac_chain("sha256", _arg(a, 0), _arg(a, 1) or "hex"),
    "sha256HmacChainHex": lambda r, a: _hmac_chain("sha256", _arg(a, 0)),
    "generateUUIDv4": lambda r, a: str(uuid.uuid4()),
    "randomFloat": lambda r, a: random.random(),  # noqa: S311 - not for secrets
    "toUUID": lambda r, a: None if _arg(a, 0) is None else str(a[0]),
    "tryDecodeURLComponent": lambda r, a: _try_decode(_arg(a, 0)),
    "isIPAddressInRange": lambda r, a: _in_range(_arg(a, 0), _arg(a, 1)),
    "RetryError": _error("RetryError"),
    "NotImplementedError": _error("NotImplementedError"),
    "JSONExtract": _json_extract,
    "JSONExtractArrayRaw": lambda r, a: v if isinstance(v := json_path(a)[1], list) else None,
    "in": lambda r, a: isinstance(_arg(a, 1), list | tuple) and any(equals(a[0], x) for x in a[1]),
    "multiSearchAnyCaseInsensitive": lambda r, a: int(
        _arg(a, 0) is not None and any(str(n).lower() in str(a[0]).lower() for n in _arg(a, 1) or [])),
    "extract": _extract,
}

LIBRARY: dict[str, Function] = {**CORE, **DATE_FUNCTIONS, **MORE}

"""A zip archive written front to back, one member at a time, so it can be streamed while it is built.

Members are stored (no compression) with their CRC and sizes in the local header, which needs each member's
bytes in hand when it is written; ZIP64 records are added only where offsets, sizes or counts need them."""

import struct
import zlib
from dataclasses import dataclass
from datetime import datetime

_LIMIT_32 = 0xFFFFFFFF
_LIMIT_16 = 0xFFFF
_UTF8_NAMES = 0x0800
_MADE_BY_UNIX = (3 << 8) | 45


@dataclass
class _Entry:
    name: bytes
    crc: int
    size: int
    offset: int
    dos_time: int
    dos_date: int
    mode: int


def _dos_time(when: datetime) -> tuple[int, int]:
    year = min(max(when.year, 1980), 2107)
    time_field = (when.hour << 11) | (when.minute << 5) | (when.second // 2)
    return time_field, ((year - 1980) << 9) | (when.month << 5) | when.day


class ZipWriter:
    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._offset = 0

    def member(self, name: str, data: bytes, modified: datetime, mode: int = 0o100600) -> bytes:
        """The local header and bytes of one stored member."""
        encoded = name.encode()
        dos_time, dos_date = _dos_time(modified)
        entry = _Entry(encoded, zlib.crc32(data), len(data), self._offset, dos_time, dos_date, mode)
        self._entries.append(entry)
        extra = b""
        size_field = entry.size
        if entry.size >= _LIMIT_32:
            extra = struct.pack("<HHQQ", 0x0001, 16, entry.size, entry.size)
            size_field = _LIMIT_32
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if extra else 20, _UTF8_NAMES, 0, dos_time, dos_date,
                             entry.crc, size_field, size_field, len(encoded), len(extra)) + encoded + extra
        self._offset += len(header) + entry.size
        return header + data

    def finish(self) -> bytes:
        """The central directory and end records."""
        directory = b"".join(self._central(entry) for entry in self._entries)
        start, count = self._offset, len(self._entries)
        end = b""
        if count >= _LIMIT_16 or start >= _LIMIT_32 or len(directory) >= _LIMIT_32:
            zip64_end = self._offset + len(directory)
            end += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _MADE_BY_UNIX, 45, 0, 0, count, count,
                               len(directory), start)
            end += struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1)
        end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, _LIMIT_16), min(count, _LIMIT_16),
                           min(len(directory), _LIMIT_32), min(start, _LIMIT_32), 0)
        return directory + end

    @staticmethod
    def _central(entry: _Entry) -> bytes:
        values: list[int] = []
        size_field, offset_field = entry.size, entry.offset
        if entry.size >= _LIMIT_32:
            values += [entry.size, entry.size]
            size_field = _LIMIT_32
        if entry.offset >= _LIMIT_32:
            values.append(entry.offset)
            offset_field = _LIMIT_32
        extra = struct.pack(f"<HH{len(values)}Q", 0x0001, 8 * len(values), *values) if values else b""
        return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, _MADE_BY_UNIX, 45 if extra else 20, _UTF8_NAMES, 0,
                           entry.dos_time, entry.dos_date, entry.crc, size_field, size_field, len(entry.name),
                           len(extra), 0, 0, 0, entry.mode << 16, offset_field) + entry.name + extra

"""What the agents' sources share to honour the core's contract (``app.core.source``): walking
their folders, scanning JSON lines from an offset, and turning counts and times into numbers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from app.core.source import MAX_COUNT, TAIL, BadCount, ParseResult

BLOCK = 8 << 20  # read size; bounds memory per file
MAX_LINE = 64 << 20  # a longer line is skipped (and reported), never buffered whole


def walk(root: Path, accept: Callable[[str], bool]) -> Iterator[Path]:
    """Every file under ``root`` whose name ``accept`` s, depth first, without following links."""
    return map(Path, walk_paths(root, accept))


def walk_paths(root: Path, accept: Callable[[str], bool]) -> Iterator[str]:
    """``walk`` as path strings."""
    stack = [str(root)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif accept(entry.name):
                            yield entry.path
                    except OSError:
                        continue
        except OSError:
            continue


class Marker:
    """Byte strings that mark a line worth decoding (compact JSON, as agents write it).

    A line is decoded when it holds any of ``literals``. ``once`` is searched for only while
    ``wanted()`` is true: a record that matters until its first copy has been seen.
    """

    __slots__ = ("literals", "once", "wanted")

    def __init__(self, *literals: bytes, once: bytes = b"", wanted: Callable[[], bool] | None = None) -> None:
        self.literals = literals
        self.once = once
        self.wanted = wanted


Find = Callable[[bytes, int], int]  # (literal, start) -> offset or -1
Searcher = Callable[[bytes, int], Find]  # (buffer, limit) -> its find


def needle(*literals: bytes) -> Marker:
    """What marks a line worth decoding: any of ``literals``."""
    return Marker(*literals)


def _libc_memmem() -> Searcher | None:
    """glibc's memmem: twice as fast as ``bytes.find`` on short needles (it shifts on byte pairs)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc's memmem is known to be fast
        memmem = libc.memmem
    except (OSError, AttributeError):
        return None
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t)
    cast, char_p, void_p = ctypes.cast, ctypes.c_char_p, ctypes.c_void_p

    def searcher(buf: bytes, limit: int) -> Find:
        base: int = cast(char_p(buf), void_p).value or 0  # the bytes object's own buffer (no copy)

        def find(lit: bytes, start: int) -> int:
            if start >= limit:
                return -1
            hit = memmem(base + start, limit - start, lit, len(lit))
            return hit - base if hit else -1

        return find

    return searcher


def _py_searcher(buf: bytes, limit: int) -> Find:
    def find(lit: bytes, start: int) -> int:
        return buf.find(lit, start, limit)

    return find


_searcher: Searcher | None = None


def searcher(buf: bytes, limit: int) -> Find:
    """``find(literal, start)`` over ``buf[:limit]``: the first offset of ``literal`` at or after ``start``, or -1."""
    return (_searcher or prepare_scan())(buf, limit)


def prepare_scan() -> Searcher:
    """Load what scanning needs (memmem, orjson): done once before forking readers, they inherit it."""
    global _searcher
    import orjson  # noqa: F401  # ~20 ms (it imports dataclasses and inspect): once, not once per reader

    if _searcher is None:
        _searcher = _libc_memmem() or _py_searcher
    return _searcher


def scan_jsonl(
    path: Path,
    offset: int,
    marker: Marker,
    on_line: Callable[[Any, int], None],
    result: ParseResult,
) -> None:
    """Feed each complete line of ``path`` after ``offset`` that ``marker`` matches to ``on_line``."""
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        tail = scan_stream(f, offset, marker, on_line, result)
    if tail is not None:
        result.tail = (str(path), result.offset, tail)


def scan_stream(
    f: BinaryIO,
    offset: int,
    marker: Marker,
    on_line: Callable[[Any, int], None],
    result: ParseResult,
) -> bytes | None:
    """Feed each complete line read from ``f`` (positioned at ``offset``) that ``marker`` matches.

    Lines without a match are never decoded: usage lines are a small share of a
    transcript's bytes (tool output dominates), so this is where the speed comes from.
    ``on_line`` gets the decoded object and the line's byte offset. A line that does not
    decode is counted in ``result.skips``; the half-written tail stays unconsumed. Returns the
    ``TAIL`` bytes before the consumed offset when they were all read here (else None).
    """
    consumed = offset
    carry = b""
    tail = b""  # the last TAIL bytes consumed
    discarding = False
    while True:
        block = f.read(BLOCK)
        if not block:
            break
        buf = carry + block if carry else block
        end = buf.rfind(b"\n")
        if end < 0:
            carry = buf
            if len(carry) > MAX_LINE:
                if not discarding:
                    result.skip(f"line over {MAX_LINE >> 20} MiB")
                discarding = True
                consumed += len(carry)
                tail = (tail + carry[-TAIL:])[-TAIL:]
                carry = b""
            continue
        start = 0
        if discarding:
            start = buf.find(b"\n") + 1
            discarding = False
        _scan_block(buf, start, end + 1, marker, consumed, on_line, result)
        consumed += end + 1
        tail = (tail + buf[max(end + 1 - TAIL, 0) : end + 1])[-TAIL:]
        carry = buf[end + 1 :]
    result.offset = consumed
    return tail if len(tail) == min(TAIL, consumed) else None


def _scan_block(
    buf: bytes,
    start: int,
    limit: int,
    marker: Marker,
    base: int,
    on_line: Callable[[Any, int], None],
    result: ParseResult,
) -> None:
    """Decode the lines of ``buf[start:limit]`` (whole lines) that hold one of ``marker``'s literals."""
    from orjson import JSONDecodeError, loads

    find = searcher(buf, limit)
    view = memoryview(buf)
    rfind, nl_find = buf.rfind, buf.find
    literals = list(marker.literals)
    wanted = marker.wanted
    if marker.once and (wanted is None or wanted()):
        literals.append(marker.once)
    else:
        wanted = None
    single = literals[0] if len(literals) == 1 else None
    hits = [find(lit, start) for lit in literals]
    while True:
        at = hits[0] if single is not None else min((h for h in hits if h >= 0), default=-1)
        if at < 0:
            return
        line_start = rfind(b"\n", start, at) + 1 or start
        line_end = nl_find(b"\n", at, limit)
        try:
            obj = loads(view[line_start:line_end])
        except JSONDecodeError:
            result.skip(_undecodable(buf[line_start:line_end]))
        else:
            if type(obj) is dict:
                try:
                    on_line(obj, base + line_start)
                except BadCount as exc:  # the line's record is dropped, and said so
                    result.skip(str(exc))
            else:
                result.skip("not a JSON object")
        start = line_end + 1
        if single is not None:
            hits[0] = find(single, start)
            continue
        if wanted is not None and not wanted():  # the once-literal is no longer needed
            literals.pop()
            hits.pop()
            wanted = None
            if len(literals) == 1:
                single = literals[0]
        for i, h in enumerate(hits):
            if 0 <= h < start:
                hits[i] = find(literals[i], start)


def _undecodable(text: bytes, what: str = "line") -> str:
    """Why ``text`` did not decode: binary garbage (not UTF-8) or broken JSON."""
    try:
        text.decode()
    except UnicodeDecodeError:
        return f"undecodable {what} (not UTF-8)"
    return "malformed JSON"


def read_json(path: Path, result: ParseResult) -> Any | None:
    """A whole JSON document, or None (counted in ``result.skips``) when it does not decode."""
    import orjson

    data = path.read_bytes()
    result.offset = len(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        result.skip(_undecodable(data, "file"))
        return None


def iso_ms(value: Any) -> int | None:
    """ISO-8601 timestamp (``Z`` or offset) to epoch milliseconds, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:  # agents write UTC; a naive stamp is taken as UTC too
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


MAX_JSON_INT = (1 << 53) - 1  # any millisecond time for the next 280,000 years

OUT_OF_RANGE = "usage count out of range"  # negative, or above MAX_COUNT, or infinite
NOT_A_NUMBER = "usage count not a number"  # a string, a bool, a list, an object, NaN
NOT_WHOLE = "usage count not a whole number"  # 12.5
CACHED_ABOVE_INPUT = "cached count above input"  # an input that includes the cache, smaller than it


_INT_ONLY = {int}


def counts(values: list[Any]) -> list[int]:
    """``count`` of each value; the common case (all ints in range) checked in one go."""
    if values and set(map(type, values)) == _INT_ONLY and min(values) >= 0 and max(values) <= MAX_COUNT:
        return values
    return [count(v) for v in values]


def count(value: Any) -> int:
    """A token count: null or missing is 0; anything else not in 0..MAX_COUNT raises :class:`BadCount`."""
    kind = type(value)
    if kind is int:
        if 0 <= value <= MAX_COUNT:
            return value
        raise BadCount(OUT_OF_RANGE)
    if value is None:
        return 0
    if kind is float:
        if value != value:
            raise BadCount(NOT_A_NUMBER)
        if not 0 <= value <= MAX_COUNT:
            raise BadCount(OUT_OF_RANGE)
        if not value.is_integer():
            raise BadCount(NOT_WHOLE)
        return int(value)
    raise BadCount(NOT_A_NUMBER)


def fresh(total: int, cached: int) -> int:
    """``total - cached`` where ``total`` includes the cached part: a smaller total is a damaged record."""
    if cached > total:
        raise BadCount(CACHED_ABOVE_INPUT)
    return total - cached


def num(value: Any) -> int:
    """A number that is not a token count (a timestamp, an order): anything but an int or a float
    in 0..MAX_JSON_INT counts as 0, that is as missing."""
    if type(value) is int or type(value) is float:
        return int(value) if 0 < value <= MAX_JSON_INT else 0
    return 0

"""Codex's plan windows, as its rollouts last recorded them (``rate_limits`` on ``token_count`` events).

The newest reading across active and archived rollouts is the state. Rollouts are read
newest first (by modification time) and only from their end: a file last written before the
newest reading found cannot hold a newer one, so the search stops there. The work is bounded
(files opened, bytes read per file, lines decoded), so ``tokenclub limits`` and the status
line stay fast over any number of rollouts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from app.core.env import Env
from app.core.limits import CodexSnapshot, iso_utc, newest_snapshot, parse_rate_limits
from app.sources.codex import Codex

TAIL_BYTES = 256 * 1024  # the first read from a rollout's end; usually holds its last token_count
MAX_TAIL_BYTES = 4 * 1024 * 1024  # read back no further than this from a plain rollout's end
MAX_ZST_BYTES = 64 * 1024 * 1024  # an archived .zst is decompressed up to this much
MAX_FILES = 64  # rollouts opened in one search
MAX_LINE_BYTES = 1024 * 1024  # a longer line is not a token_count worth decoding
PER_FILE = 8  # readings kept per rollout (newest first): enough to see past a placeholder
MARK = b'"rate_limits":{'


class CodexLimits(NamedTuple):
    """The state found (or None), the rollout it came from, and what the search cost."""

    snapshot: CodexSnapshot | None
    path: str | None
    files_read: int
    bytes_read: int


def read(env: Env) -> CodexLimits:
    """The newest Codex plan reading under ``env``'s Codex roots (``CODEX_HOME`` honoured)."""
    source = Codex()
    found: list[tuple[float, str]] = []
    for root in source.roots(env):
        for path in source.files(root):
            try:
                found.append((os.stat(path).st_mtime, path))
            except OSError:
                continue
    found.sort(reverse=True)
    kept: list[tuple[CodexSnapshot, str]] = []
    files = size = 0
    for mtime, path in found[:MAX_FILES]:
        best = newest_snapshot(s for s, _ in kept)
        if best is not None and not best.placeholder_shaped and mtime < best.ts.timestamp() - 1:
            break  # written before the newest real reading: nothing newer in it or in any older file
        snaps, n = _tail_snapshots(path)
        files, size = files + 1, size + n
        kept.extend((s, path) for s in snaps)
    best = newest_snapshot(s for s, _ in kept)
    origin = next((p for s, p in kept if s is best), None)
    return CodexLimits(best, origin, files, size)


def _tail_snapshots(path: str) -> tuple[list[CodexSnapshot], int]:
    """The rollout's last readings (newest first, at most ``PER_FILE``), and the bytes read for them.

    The end of the file is read first; a wider read follows, up to ``MAX_TAIL_BYTES``, only
    when that holds no reading.
    """
    if path.endswith(".zst"):
        lines, n = _zst_lines(path)
        return _snapshots(lines), n
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            want = TAIL_BYTES
            while True:
                start = max(0, end - want)
                f.seek(start)
                data = f.read(end - start)
                snaps = _snapshots(_marked(data, whole=start == 0))
                if snaps or start == 0 or want >= MAX_TAIL_BYTES:
                    return snaps, len(data)
                want *= 4
    except OSError:
        return [], 0


def _marked(data: bytes, whole: bool) -> list[bytes]:
    """Lines of ``data`` holding the marker, newest first; the first line is partial unless ``whole``."""
    out: list[bytes] = []
    at = len(data)
    while len(out) < PER_FILE:
        hit = data.rfind(MARK, 0, at)
        if hit < 0:
            break
        start = data.rfind(b"\n", 0, hit) + 1
        if start == 0 and not whole:
            break  # cut by the read: the wider read that follows sees it whole
        stop = data.find(b"\n", hit)
        line = data[start : len(data) if stop < 0 else stop]
        if len(line) <= MAX_LINE_BYTES:
            out.append(line)
        at = start
    return out


def _zst_lines(path: str) -> tuple[list[bytes], int]:
    import zstandard

    kept: list[bytes] = []
    total = 0
    carry = b""
    try:
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as f:
            while total < MAX_ZST_BYTES:
                chunk = f.read(1024 * 1024)
                if not chunk:
                    break
                total += len(chunk)
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:][-MAX_LINE_BYTES:]
                kept = (_marked(data[:cut], whole=True) + kept)[:PER_FILE]
        if carry:
            kept = (_marked(carry, whole=True) + kept)[:PER_FILE]
    except (OSError, zstandard.ZstdError):
        return kept, total
    return kept, total


def _snapshots(lines: list[bytes]) -> list[CodexSnapshot]:
    out = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        snap = _snapshot(obj)
        if snap is not None:
            out.append(snap)
    return out


def _snapshot(obj: Any) -> CodexSnapshot | None:
    if not isinstance(obj, dict) or obj.get("type") != "event_msg":
        return None
    payload = obj.get("payload")
    if not isinstance(payload, dict) or payload.get("type") != "token_count":
        return None
    ts = iso_utc(obj.get("timestamp"), longest=40)
    return None if ts is None else parse_rate_limits(payload.get("rate_limits"), ts)


def roots(env: Env) -> list[Path]:
    """Where the readings are looked for (for messages)."""
    return Codex().roots(env)

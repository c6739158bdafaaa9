"""Format-faithful log lines for tests that need their own cases (see FORMATS.md)."""

from __future__ import annotations

import orjson


def claude_line(
    msg: str,
    ts: str,
    *,
    inp: int = 10,
    out: int = 100,
    cw: int = 0,
    cr: int = 0,
    model: str = "claude-sonnet-4-5-20250929",
    session: str = "s-1",
    cwd: str = "/home/dev/proj",
    request: str | None = None,
    sidechain: bool = False,
) -> bytes:
    """One Claude Code assistant line carrying ``message.usage``, newline-terminated."""
    record = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.30",
        "message": {
            "id": msg,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": inp,
                "cache_creation_input_tokens": cw,
                "cache_read_input_tokens": cr,
                "output_tokens": out,
            },
        },
        "requestId": request or f"req-{msg}",
        "type": "assistant",
        "uuid": f"u-{msg}-{out}",
        "timestamp": ts,
    }
    return orjson.dumps(record) + b"\n"


def tool_result_line(size: int, ts: str = "2026-11-20T10:00:00.000Z") -> bytes:
    """A user tool_result line of about ``size`` bytes, with no usage."""
    record = {
        "type": "user",
        "timestamp": ts,
        "message": {"role": "user", "content": [{"type": "tool_result", "content": "x" * size}]},
    }
    return orjson.dumps(record) + b"\n"

"""What each agent's source found on this machine: the ``tokenclub sources`` document."""

from __future__ import annotations

from typing import Any

from app.core.env import Env
from app.core.index import Index, events_by_agent, files_summary
from app.sources import all_sources


def document(index: Index, env: Env, elsewhere: str) -> dict[str, Any]:
    """Per agent: roots searched (and whether they exist), files, events, MB read, skips, errors.

    Files under ``elsewhere`` (the dedicated machines' mirrors, listed per host) are left out.
    """
    per_file: dict[str, dict[str, Any]] = {}
    for agent, f in files_summary(index.conn, elsewhere, under=False).items():
        errors = [{"path": path, "error": error} for path, error in f.pop("errors")]
        per_file[agent] = {**f, "error_files": errors}
    events = events_by_agent(index.conn)
    out = []
    for source in all_sources():
        s = per_file.get(source.agent) or _no_files()
        out.append(
            {
                "agent": source.agent,
                "title": source.title,
                "roots": [{"path": str(r), "exists": r.exists()} for r in source.roots(env)],
                **s,
                "errors": len(s["error_files"]),
                "events": events.get(source.agent, 0),
            }
        )
    return {"sources": out, "db": str(index.path)}


def _no_files() -> dict[str, Any]:
    return {"files": 0, "gone": 0, "MB": 0.0, "skipped": {}, "error_files": []}

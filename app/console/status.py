"""The dedicated machines' documents both faces show: the hosts added, and what was pulled from each."""

from __future__ import annotations

import sqlite3
from typing import Any

from app.core import paths


def mirrors() -> str:
    """The folder (with its trailing separator) every host's mirror is under."""
    return str(paths.data_dir() / "hosts") + "/"


def hosts_list() -> list[dict[str, Any]]:
    """The hosts added with ``host add``: name, ssh address, port, identity file and pinned key (None: none pinned).

    Raises:
        HostError, OSError: the hosts' file cannot be read.
    """
    from app.console import hosts
    from app.console.ssh import pinned

    rows = []
    for t in hosts.load().values():
        keys = pinned(t)
        rows.append(
            {
                "host": t.name,
                "ssh": t.ssh,
                "port": t.port,
                "identity": t.identity,
                "host_key": keys[0].fingerprint if keys else None,
            }
        )
    return rows


def hosts_document(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per host and agent: files, gone, MB read, skips and errors under its mirror."""
    from app.console import hosts, pull
    from app.core.index import events_by_agent, files_summary

    try:
        targets = hosts.load()
    except Exception:  # a broken registry is reported by the commands that use it
        return []
    out = []
    for name in targets:
        base = str(pull.mirror_root(name)) + "/"
        agents = files_summary(conn, base, under=True)
        for s in agents.values():
            s["errors"] = [{"path": path[len(base) - 1 :], "error": error} for path, error in s["errors"]]
        events = events_by_agent(conn, name)
        for agent, s in agents.items():
            s["events"] = events.get(agent, 0)
        out.append({"host": name, "agents": agents})
    return out

"""The dedicated machines TokenClub pulls usage from: ``hosts.json`` in the config folder.

Each host has a NAME (its device in the index), where ssh reaches it, and the key pinned
in TokenClub's own ``known_hosts`` when it was added. Pairing refuses the workstation
itself (same machine id) unless the user says so.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from app.console.ssh import HostError, HostKey, Session, Target, keyscan, pin, pinned, stop_master, unpin
from app.core import paths
from app.core.schema import is_device_name

# agent id -> the CLI a host check looks for
CLIS = {
    "claude-code": "claude",
    "codex": "codex",
    "gemini-cli": "gemini",
    "opencode": "opencode",
    "qwen-code": "qwen",
    "amp": "amp",
}


def registry_file() -> Path:
    return paths.config_dir() / "hosts.json"


def load() -> dict[str, Target]:
    """Every registered host by name (none when the file is missing)."""
    try:
        raw = json.loads(registry_file().read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise HostError(f"{registry_file()} is not valid JSON ({exc}); fix or remove it") from exc
    return {
        name: Target(name, h["ssh"], int(h.get("port", 22)), h.get("identity"))
        for name, h in raw.get("hosts", {}).items()
    }


def named(name: str) -> Target:
    """The registered host NAME, or a HostError saying there is none."""
    target = load().get(name)
    if target is None:
        raise HostError(f"no host named {name}")
    return target


PULL_EVERY_S = 60.0  # the desktop app pulls the hosts this often (and on Refresh)


def _raw() -> dict[str, Any]:
    try:
        raw: dict[str, Any] = json.loads(registry_file().read_text())
        return raw
    except (FileNotFoundError, ValueError):
        return {}


def pull_every_s() -> float:
    """How often the desktop app pulls the hosts, in seconds (0: only on Refresh)."""
    value = _raw().get("pull_every_s", PULL_EVERY_S)
    return float(value) if isinstance(value, int | float) and value >= 0 else PULL_EVERY_S


def set_pull_every_s(seconds: float) -> None:
    if seconds < 0:
        raise HostError("the pull interval cannot be negative")
    save(load(), pull_every=seconds)


def any_registered() -> bool:
    """Cheap: no file, no hosts (a refresh then never imports the pulling code)."""
    return registry_file().exists()


def claude_sandbox(name: str) -> bool:
    """The host's own setting: Claude Code runs there with IS_SANDBOX=1 (so it may skip permissions as root)."""
    entry = _raw().get("hosts", {}).get(name)
    return isinstance(entry, dict) and entry.get("claude_sandbox") is True


def set_claude_sandbox(name: str, on: bool) -> None:
    hosts = load()
    if name not in hosts:
        raise HostError(f"no host named {name}")
    save(hosts, settings={name: {"claude_sandbox": on}})


def save(
    hosts: dict[str, Target], pull_every: float | None = None, settings: dict[str, dict[str, Any]] | None = None
) -> None:
    raw = _raw()
    every = raw.get("pull_every_s", PULL_EVERY_S) if pull_every is None else pull_every
    kept = {n: e.get("claude_sandbox") for n, e in raw.get("hosts", {}).items() if isinstance(e, dict)}
    for n, changes in (settings or {}).items():
        kept[n] = changes.get("claude_sandbox")
    doc = {
        "pull_every_s": every,
        "hosts": {
            t.name: {
                "ssh": t.ssh,
                "port": t.port,
                **({"identity": t.identity} if t.identity else {}),
                **({"claude_sandbox": True} if kept.get(t.name) is True else {}),
            }
            for t in hosts.values()
        },
    }
    paths.write_atomic(registry_file(), json.dumps(doc, indent=2).encode())


def local_machine_id() -> str | None:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text:
            return text
    return None


def check_name(name: str) -> None:
    from app.core.devices import local_name

    if not is_device_name(name):
        raise HostError(f"{name!r} is not a host name: letters, digits, '.', '_' and '-', at most 64")
    if name in ("local", local_name()):
        raise HostError(f"{name!r} names this machine in reports; choose another name")


def matching(keys: list[HostKey], fingerprint: str) -> HostKey | None:
    return next((k for k in keys if k.fingerprint == fingerprint), None)


def add(target: Target, key: HostKey, allow_this_machine: bool, claude_sandbox: bool = False) -> dict[str, Any]:
    """Pin ``key``, connect, compare machine ids, and register. Returns the host's info."""
    hosts = load()
    if target.name in hosts:
        raise HostError(f"a host named {target.name} exists; remove it first or choose another name")
    if target.identity and not os.path.isfile(target.identity):
        raise HostError(f"identity file {target.identity} does not exist")
    previous = pinned(target)
    pin(target, key)
    try:
        with Session(target) as session:
            info = session.info
    except BaseException:
        if previous:
            pin(target, previous[0])
        else:
            unpin(target)
        raise
    mine = local_machine_id()
    if not allow_this_machine and mine is not None and info.get("machine_id") == mine:
        stop_master(target)
        unpin(target)
        raise HostError(
            f"{target.ssh} is this machine (same machine id {mine[:8]}…): its logs are already counted; "
            "pass --allow-this-machine to dedicate the machine you sit at on purpose"
        )
    hosts[target.name] = target
    save(hosts, settings={target.name: {"claude_sandbox": claude_sandbox}})
    return info


def rekey(target: Target, fingerprint: str) -> HostKey:
    key = matching(keyscan(target), fingerprint)
    if key is None:
        raise HostError(f"{target.address}:{target.port} offers no key with fingerprint {fingerprint}")
    stop_master(target)  # a shared connection made under the old key must not outlive it
    pin(target, key)
    return key


def remove(name: str) -> Target:
    target = named(name)
    hosts = load()
    del hosts[name]
    stop_master(target)
    unpin(target)
    save(hosts)
    return target


def check(target: Target) -> dict[str, Any]:
    """Reachable or why not, round trip, OS, Python, free disk, agent CLIs, log roots with counts and sizes."""
    from app.console import agents, pull

    doc: dict[str, Any] = {"host": target.name, "ssh": target.ssh, "port": target.port}
    started = time.monotonic()
    try:
        with Session(target) as session:
            doc["connect_s"] = round(time.monotonic() - started, 3)
            t0 = time.monotonic()
            session.request({"op": "info"})
            doc["rtt_ms"] = round((time.monotonic() - t0) * 1000, 1)
            info = session.request({"op": "info", "env": pull.env_names(), "clis": sorted(set(CLIS.values()))})
            sandbox = claude_sandbox(target.name)
            claude = (info.get("clis") or {}).get("claude") or {}
            if info.get("uid") == 0 and claude.get("path"):
                doc["claude_root"] = (
                    "runs as root with IS_SANDBOX=1 (this host's --claude-sandbox setting)"
                    if sandbox
                    else agents.ROOT_CLAUDE.format(host=target.name)
                )
            doc.update(
                reachable=True,
                os=info.get("os"),
                python=info.get("python"),
                hostname=info.get("hostname"),
                home=info.get("home"),
                disk_free_bytes=info.get("disk_free"),
                clis=info.get("clis"),
                uid=info.get("uid"),
                claude_sandbox=sandbox,
            )
            doc["agents"] = pull.roots_summary(session, info)
    except HostError as exc:
        doc.update(reachable=False, why=str(exc), kind=exc.kind)
    return doc

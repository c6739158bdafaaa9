"""Hosts over the system OpenSSH client: one shared connection per host, TokenClub's own known hosts.

Never a re-implementation of SSH: every connection is ``ssh`` with ``BatchMode=yes`` (no
prompt can hang a refresh), a connect timeout, ``StrictHostKeyChecking=yes`` against
TokenClub's own ``known_hosts`` (in the config folder; the system's is not read) under the
alias ``tokenclub-<NAME>``, and one ControlMaster per host kept open for
``ControlPersist`` seconds after its last use. The identity is the host's ``--identity``
(with ``IdentitiesOnly``) or whatever the user's ssh-agent and ssh config offer.

The helper (the modules of ``app/console/remote``, joined into one file) is copied to
``~/.cache/tokenclub/helper-<sha>.py`` on the host when missing (uploaded to a temporary name,
then renamed) and run with the host's ``python3``; requests and answers travel on its stdin and
stdout.

The host is not trusted (it runs agents on untrusted input): an answer's header line is read
with a limit (``LINE_MAX``, or ``LINE_MAX_BIG`` for the verbs that list many things), a frame's
length must be an integer in ``0..PAYLOAD_MAX`` (the helper's 4 MiB block plus zlib's worst
growth), a one-frame request takes exactly one frame, and a compressed block is inflated to at
most the raw size its header states. A breach kills that host's ssh at once and is a
``HostError`` of kind ``protocol`` naming it; ``confine`` checks what the answers mean.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.console import remote
from app.core import paths

CONNECT_TIMEOUT_S = 10
PERSIST_S = int(os.environ.get("TOKENCLUB_SSH_PERSIST", "60"))
_FP = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
LINE_MAX = 1 << 20  # a header line
LINE_MAX_BIG = 16 << 20  # the header line of a scan (up to confine.MAX_SCAN_FILES files) or of a run list
_BIG = ("scan", "runs")
RAW_MAX = 4 << 20  # the helper's block (its CHUNK)
PAYLOAD_MAX = RAW_MAX + (RAW_MAX >> 10) + 1024  # zlib's worst case adds under 0.1 %


class HostError(RuntimeError):
    """A host could not be used; the message names the reason (never a key)."""

    def __init__(self, reason: str, kind: str = "error") -> None:
        super().__init__(reason)
        self.kind = kind  # unreachable, host-key, auth, no-python, protocol, error


@dataclass(frozen=True)
class Target:
    """Where a host is: ``[user@]host``, port, identity file."""

    name: str
    ssh: str
    port: int = 22
    identity: str | None = None

    @property
    def alias(self) -> str:
        return f"tokenclub-{self.name}"

    @property
    def address(self) -> str:
        return self.ssh.rsplit("@", 1)[-1]


def known_hosts() -> Path:
    return paths.config_dir() / "known_hosts"


def control_dir() -> Path:
    """A short private folder for the ControlMaster sockets (a socket path must stay under 108 bytes)."""
    tag = hashlib.blake2b(str(paths.config_dir()).encode(), digest_size=4).hexdigest()
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    if len(base) > 40:
        base = tempfile.gettempdir()
    path = Path(base) / f"tc-{os.getuid()}-{tag}"
    path.mkdir(mode=0o700, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise HostError(f"{path} is not private to this user: refusing to keep ssh sockets there")
    return path


def options(target: Target, master: bool = True) -> list[str]:
    """``ssh`` options for ``target`` (before the destination)."""
    opts = {
        "BatchMode": "yes",
        "ConnectTimeout": str(CONNECT_TIMEOUT_S),
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(known_hosts()),
        "GlobalKnownHostsFile": "/dev/null",
        "HostKeyAlias": target.alias,
        "UpdateHostKeys": "no",
        "ServerAliveInterval": "15",
        "ServerAliveCountMax": "2",
        "LogLevel": "ERROR",
        # AES-GCM first (hardware AES: about twice chacha20's rate on a bulk pull); the rest as the client orders it
        "Ciphers": "^aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    }
    if master:
        opts.update(ControlMaster="auto", ControlPath=str(control_dir() / "%C"), ControlPersist=str(PERSIST_S))
    else:
        opts["ControlMaster"] = "no"
        opts["ControlPath"] = "none"
    if target.identity:
        opts.update(IdentitiesOnly="yes", IdentityFile=target.identity)
    args = ["-p", str(target.port)]
    for k, v in opts.items():
        args += ["-o", f"{k}={v}"]
    return args


def command(target: Target, remote: str, master: bool = True) -> list[str]:
    return ["ssh", *options(target, master), "-T", "--", target.ssh, remote]


def stop_master(target: Target) -> None:
    """Close the shared connection (after a rekey, a removal, or at the end of a test)."""
    with open(os.devnull, "wb") as null:
        subprocess.run(
            ["ssh", *options(target), "-O", "exit", target.ssh], stdin=subprocess.DEVNULL, stdout=null, stderr=null
        )


# -- host keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostKey:
    line: str  # as known_hosts holds it, under the alias
    fingerprint: str  # SHA256:…
    kind: str  # ED25519, ECDSA, RSA


def keyscan(target: Target, timeout: int = CONNECT_TIMEOUT_S) -> list[HostKey]:
    """The host's keys as it offers them now (not yet trusted), each with its fingerprint."""
    if shutil.which("ssh-keyscan") is None:
        raise HostError("ssh-keyscan is not installed (install the OpenSSH client)")
    done = subprocess.run(
        ["ssh-keyscan", "-T", str(timeout), "-p", str(target.port), "--", target.address],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout + 5,
    )
    keys = []
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) < 3 or line.startswith("#"):
            continue
        keys.append(_with_fingerprint(f"{target.alias} {parts[1]} {parts[2]}"))
    if not keys:
        why = done.stderr.strip().splitlines()
        raise HostError(
            f"{target.address}:{target.port} offered no host key ({why[-1] if why else 'unreachable'})",
            "unreachable",
        )
    return keys


def _with_fingerprint(line: str) -> HostKey:
    with tempfile.NamedTemporaryFile("w", suffix=".pub") as f:
        f.write(line + "\n")
        f.flush()
        out = subprocess.run(["ssh-keygen", "-lf", f.name], capture_output=True, text=True, check=True).stdout
    found = _FP.search(out)
    kind = out.strip().rsplit("(", 1)[-1].rstrip(")") if "(" in out else "?"
    if found is None:
        raise HostError(f"ssh-keygen could not fingerprint a key: {out.strip()}")
    return HostKey(line, found.group(0), kind)


def pinned(target: Target) -> list[HostKey]:
    """The keys TokenClub trusts for ``target``."""
    try:
        lines = known_hosts().read_text().splitlines()
    except FileNotFoundError:
        return []
    return [_with_fingerprint(line) for line in lines if line.split(" ", 1)[0] == target.alias]


def pin(target: Target, key: HostKey) -> None:
    """Trust ``key`` (only it) for ``target``, replacing whatever was trusted before."""
    try:
        lines = known_hosts().read_text().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [line for line in lines if line.split(" ", 1)[0] != target.alias]
    paths.write_atomic(known_hosts(), ("\n".join([*kept, key.line]) + "\n").encode())


def unpin(target: Target) -> None:
    try:
        lines = known_hosts().read_text().splitlines()
    except FileNotFoundError:
        return
    kept = [line for line in lines if line.split(" ", 1)[0] != target.alias]
    paths.write_atomic(known_hosts(), ("\n".join(kept) + "\n" if kept else "").encode())


def is_fingerprint(text: str) -> bool:
    return _FP.fullmatch(text) is not None


# -- the helper ---------------------------------------------------------------------------------


def helper_source() -> tuple[bytes, str]:
    data = remote.joined()
    return data, hashlib.sha256(data).hexdigest()[:16]


_NO_PYTHON = 127
_MISSING = 3


def _launcher(sha: str) -> str:
    # no path of the user's, no key, no prompt: only the helper's own name, fixed by its hash;
    # -E -S: the standard library only (no PYTHON* variables, no site), and half the start-up time
    return (
        'command -v python3 >/dev/null 2>&1 || { echo "python3 is not on the PATH" >&2; exit 127; }; '
        f'f="$HOME/.cache/tokenclub/helper-{sha}.py"; [ -f "$f" ] || exit 3; exec python3 -E -S "$f"'
    )


def _upload(target: Target, data: bytes, sha: str, timeout: float) -> None:
    remote = (
        'umask 077 && mkdir -p "$HOME/.cache/tokenclub" && t="$HOME/.cache/tokenclub/.helper-$$.tmp" && '
        f'cat > "$t" && mv -f "$t" "$HOME/.cache/tokenclub/helper-{sha}.py"'
    )
    done = subprocess.run(command(target, remote), input=data, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        raise classify(target, done.returncode, done.stderr.decode("utf-8", "replace"))


def classify(target: Target, code: int, stderr: str) -> HostError:
    """Turn ssh's exit and message into a reason a person can act on."""
    text = stderr.strip()
    last = text.splitlines()[-1] if text else f"ssh exited with status {code}"
    if "host key is known" in text and "IDENTIFICATION HAS CHANGED" not in text:
        return HostError(
            f"no host key is pinned for it; run `tokenclub host rekey {target.name} --accept-host-key SHA256:…`",
            "host-key",
        )
    if "IDENTIFICATION HAS CHANGED" in text or "Host key verification failed" in text:
        old = ", ".join(k.fingerprint for k in pinned(target)) or "none"
        try:
            new = ", ".join(sorted({k.fingerprint for k in keyscan(target)}))
        except (HostError, subprocess.SubprocessError, OSError) as exc:
            new = f"unknown ({exc})"
        return HostError(
            f"host key changed: pinned {old}, the host now offers {new}; if you expect this, run "
            f"`tokenclub host rekey {target.name} --accept-host-key SHA256:…`",
            "host-key",
        )
    if "Permission denied" in text or "Too many authentication failures" in text:
        return HostError(f"authentication refused ({last})", "auth")
    if code == _NO_PYTHON and "python3" in text:
        return HostError("python3 is not on the host's PATH (the helper needs Python 3.8 or newer)", "no-python")
    if code == 255:
        return HostError(f"unreachable ({last})", "unreachable")
    return HostError(last, "error")


def zlib_level(target: Target) -> int:
    """How hard file bytes are compressed in transit: zlib 1, or none over loopback (where it only costs).

    ``$TOKENCLUB_PULL_ZLIB`` (0-9) overrides it.
    """
    own = os.environ.get("TOKENCLUB_PULL_ZLIB")
    if own is not None and own.isdigit():
        return min(int(own), 9)
    return 0 if target.address in ("127.0.0.1", "::1", "localhost") else 1


class Session:
    """One helper process on a host; ``call`` sends a request and yields its answer frames."""

    def __init__(
        self,
        target: Target,
        timeout: float = 60.0,
        hello: dict[str, Any] | None = None,
        on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    ) -> None:
        """Start the helper (uploading it when missing); ``hello`` is the first request (default ``info``).

        ``on_start`` gets each ``ssh`` process as it starts (a caller's deadline kills it).
        """
        self.target = target
        self.timeout = timeout
        self.bytes_in = 0  # what came over the wire, compressed
        self.data_in = 0  # of which file bytes (compressed), without the frames' headers
        self.last_payload = b""
        data, sha = helper_source()
        for attempt in range(2):
            proc = subprocess.Popen(
                command(target, _launcher(sha)),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert proc.stdin is not None and proc.stdout is not None
            self.proc, self.inp, self.out = proc, proc.stdin, proc.stdout
            if on_start is not None:
                on_start(proc)
            try:
                self.info: dict[str, Any] = self.request(hello or {"op": "info"})
                return
            except HostError as exc:
                if exc.kind == "protocol":  # the helper answered, wrongly: its reason, not ssh's exit
                    self.violation(str(exc))
                    self.close()
                    raise
                code = self._finish()
                err = self._stderr()
                if code == _MISSING and attempt == 0:
                    _upload(target, data, sha, timeout)
                    continue
                raise classify(target, code, err) from None
        raise HostError("the helper could not be started", "protocol")

    def _stderr(self) -> str:
        try:
            assert self.proc.stderr is not None
            return self.proc.stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def _finish(self) -> int:
        try:
            return self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.inp.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, req: dict[str, Any]) -> None:
        try:
            self.inp.write(json.dumps(req).encode() + b"\n")
            self.inp.flush()
        except (BrokenPipeError, OSError) as exc:
            raise HostError(f"connection lost ({exc})", "unreachable") from exc

    def violation(self, reason: str) -> HostError:
        """A breach of the protocol: the host's ssh is killed (whatever it still sends is not read)."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        return HostError(reason, "protocol")

    def frame(self, line_max: int = LINE_MAX) -> tuple[dict[str, Any], bytes]:
        """One frame: its header (a JSON object on one line of at most ``line_max`` bytes) and its bytes."""
        out: IO[bytes] = self.out
        line = out.readline(line_max + 1)
        if not line.endswith(b"\n"):
            if len(line) > line_max:
                raise self.violation(f"a header line longer than {line_max >> 20} MiB")
            raise HostError("connection lost mid-answer", "unreachable")
        self.bytes_in += len(line)
        try:
            header = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise self.violation(f"the helper answered garbage: {line[:80]!r}") from exc
        if not isinstance(header, dict):
            raise self.violation(f"a frame header that is not an object: {line[:80]!r}")
        n = header.get("n", 0)
        if type(n) is not int or not 0 <= n <= PAYLOAD_MAX:
            raise self.violation(f"a frame length {shown(n)} (not an integer in 0..{PAYLOAD_MAX})")
        payload = out.read(n) if n else b""
        if len(payload) != n:
            raise HostError("connection lost mid-transfer", "unreachable")
        self.bytes_in += n
        if "ok" in header and header["ok"] is not True:
            raise HostError(f"the helper failed: {str(header.get('error'))[:300]}", "protocol")
        return header, payload

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        """A request with a one-frame answer (its bytes, if any, in ``last_payload``)."""
        self.send(req)
        header, self.last_payload = self.frame(LINE_MAX_BIG if req.get("op") in _BIG else LINE_MAX)
        if "ok" not in header:
            raise self.violation(f"a {req.get('op')} answer in more than one frame")
        return header

    def stream(self, req: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bytes]]:
        """``read`` / ``backup`` answers, payloads decompressed (each to exactly its stated raw size)."""
        req.setdefault("level", zlib_level(self.target))
        self.send(req)
        z = req["level"]
        while True:
            header, payload = self.frame()
            if "ok" in header:
                return
            if "raw" not in header:
                if payload:
                    raise self.violation(f"bytes after a frame that carries none: {shown(header)}")
                yield header, payload
                continue
            raw = header["raw"]
            if type(raw) is not int or not 0 < raw <= RAW_MAX:
                raise self.violation(f"a frame's raw size {shown(raw)} (not an integer in 1..{RAW_MAX})")
            self.data_in += len(payload)
            data = self._inflate(payload, raw) if z else payload
            if len(data) != raw:
                raise self.violation(f"a frame of {len(data)} bytes that says {raw}")
            yield header, data

    def _inflate(self, payload: bytes, raw: int) -> bytes:
        """One zlib stream, inflated to at most ``raw`` bytes (a small payload can expand a thousandfold)."""
        z = zlib.decompressobj()
        try:
            data = z.decompress(payload, raw)
        except zlib.error as exc:
            raise self.violation(f"a frame that does not inflate ({exc})") from None
        if z.unconsumed_tail or z.unused_data or not z.eof:
            raise self.violation(f"a frame that inflates past its stated {raw} bytes, or not to an end")
        return data


def shown(value: object) -> str:
    """A host's value in a message: repr'd and cut short (never a whole endless string)."""
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"

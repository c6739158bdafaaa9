"""Reading a club export: size limit, JSON, structure, version, signature (before any number is trusted).

Every failure is a :class:`Rejected` with a rule name (``too_large``, ``not_json``,
``not_an_export``, ``newer_version``, ``malformed``, ``unsigned``, ``bad_signature``, and the
arithmetic rules of ``app.club.rules``) and a reason a person can act on. The day data is in
columns (``app.club.columns``), so each check is one pass of C-level ``map`` over a column.
``docs/club-schema.md`` describes the format checked here.
"""

from __future__ import annotations

import re
from array import array
from operator import lt
from pathlib import Path
from typing import Any

import orjson

from app.club import SCHEMA, VERSION
from app.club.canonical import canonical
from app.club.columns import COST, FIELDS, fields
from app.club.signing import fingerprint, unb64, verify

MAX_FILE_BYTES = 16 * 1024 * 1024  # ten years of days with dozens of models each stay under 8 MB
MAX_NAMES = 200  # agents or models in one export
MAX_COUNT = 2**53 - 1  # tokens and calls: JSON's exact integers
MAX_DEVICES_FIELD = 1000
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MEMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")
# an agent or model name: no control characters, no backslash, not starting as a path does (``/``, ``~``);
# a ``/`` inside is a router's model id (``anthropic/claude-sonnet-4`` through OpenRouter)
NAME_RE = re.compile(r"^(?![/~])[^\x00-\x1f\x7f\\]{1,120}$")
_BOUNDED = ("total", "rsn", "calls", COST)
_INT = {int}
_STR = {str}
_OPT_STR = {str, type(None)}
_OPT_INT = {int, type(None)}


class Rejected(Exception):
    """A file (or a day of it) failed a named rule."""

    def __init__(self, rule: str, reason: str, day: str | None = None) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.day = day
        self.member: str | None = None  # whose file, once its structure is known


def read(path: Path) -> dict[str, Any]:
    """The parsed export in ``path``: well formed, signature verified, its arithmetic rules kept.

    Raises:
        Rejected: the file is too large, not JSON, not an export, from a newer version,
            malformed, unsigned, its signature does not verify, or its numbers do not add up.
        OSError: the file cannot be read.
    """
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Rejected("too_large", f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not read")
    return parse(data)


def parse(data: bytes) -> dict[str, Any]:
    """As :func:`read`, from the file's bytes."""
    from app.club.rules import check_file

    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        hint = " (truncated?)" if data.strip()[:1] in (b"{", b"[") else ""
        raise Rejected("not_json", f"not JSON{hint}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise Rejected("not_an_export", f"not a TokenClub club export (no \"schema\": \"{SCHEMA}\")")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise Rejected("malformed", "\"version\" is not a positive integer")
    if version > VERSION:
        raise Rejected(
            "newer_version",
            f"written in schema version {version}, this TokenClub reads up to {VERSION}: update TokenClub to merge it",
        )
    check_structure(doc)
    check_signature(doc)
    try:
        check_file(doc)  # numbers that do not add up: a signed file TokenClub would not have written
    except Rejected as err:
        err.member = doc["member"]
        raise
    return doc


def _malformed(what: str, day: str | None = None) -> Rejected:
    return Rejected("malformed", what, day)


def _column(col: Any, n: int, where: str, bound: bool = False, nullable: bool = False) -> None:
    """``col`` is a list of ``n`` whole numbers from 0 (or nulls, when ``nullable``); at most MAX_COUNT if ``bound``.

    An unsigned 64-bit array takes only whole numbers in 0..2**64-1: one C-level pass. The
    other columns need no bound of their own: the arithmetic rules tie every number to a
    day's total, calls, reasoning or cost, which are bounded here.
    """
    if type(col) is not list or len(col) != n:
        raise _malformed(f"{where} is not a list of {n} numbers, one per day")
    try:
        array("Q", col)
    except (TypeError, OverflowError):
        kinds = set(map(type, col))
        if not kinds <= (_OPT_INT if nullable else _INT):
            raise _malformed(f"{where} holds something other than whole numbers") from None
        col = [x for x in col if x is not None]
        if col and min(col) < 0:
            raise _malformed(f"{where} holds a negative number") from None
    if bound and col and max(col) > MAX_COUNT:
        raise _malformed(f"{where} holds a number over {MAX_COUNT:,}")


def _fields(obj: Any, fs: tuple[str, ...], n: int, where: str, extra: tuple[str, ...] = ()) -> None:
    if not isinstance(obj, dict) or set(obj) != {*fs, *extra}:
        raise _malformed(f"{where} must hold exactly the columns {', '.join((*extra, *fs))}")
    top = where == "days"
    for f in fs:
        _column(obj[f], n, f"{where}.{f}", bound=top and f in _BOUNDED, nullable=f == COST)


def check_structure(doc: dict[str, Any]) -> None:
    """Raise :class:`Rejected` (``malformed`` or ``unsigned``) unless ``doc`` is shaped as schema version 1."""
    member = doc.get("member")
    if not isinstance(member, str) or not MEMBER_RE.match(member):
        raise _malformed("\"member\" is missing or not a member name")
    for field in ("created", "since", "until", "tokenclub"):
        if not isinstance(doc.get(field), str):
            raise _malformed(f"\"{field}\" is missing or not a string")
    since, until = doc["since"], doc["until"]
    if not DATE_RE.match(since) or not DATE_RE.match(until) or since > until:
        raise _malformed("\"since\"/\"until\" are not dates in order")
    includes = doc.get("includes")
    if not isinstance(includes, dict) or not all(type(includes.get(k)) is bool for k in ("cost", "models")):
        raise _malformed("\"includes\" must say whether cost and models are included")
    cost, models = includes["cost"], includes["models"]
    fs = fields(cost)
    days = doc.get("days")
    if not isinstance(days, dict):
        raise _malformed("\"days\" is not an object of columns")
    dates = days.get("date")
    if type(dates) is not list or (dates and set(map(type, dates)) != _STR) or not all(map(DATE_RE.match, dates)):
        raise _malformed("days.date is not a list of dates")
    n = len(dates)
    if not all(map(lt, dates, dates[1:])):
        twice = next((a for a, b in zip(dates, dates[1:], strict=False) if a == b), None)
        raise _malformed(f"day {twice} appears twice" if twice else "days.date is not in order", twice)
    if dates and not (since <= dates[0] and dates[-1] <= until):
        raise _malformed("a day lies outside since..until")
    _fields(days, fs, n, "days", extra=("date", "tier", "devices"))
    tiers = days["tier"]
    if type(tiers) is not list or len(tiers) != n or (tiers and not set(map(type, tiers)) <= _OPT_STR):
        raise _malformed("days.tier is not a list of tier labels or nulls, one per day")
    devices = days["devices"]
    _column(devices, n, "days.devices")
    if devices and not 1 <= min(devices) <= max(devices) <= MAX_DEVICES_FIELD:
        raise _malformed(f"days.devices holds a count outside 1..{MAX_DEVICES_FIELD}")
    for split in ("by_agent", "by_model"):
        if split == "by_model" and not models:
            if split in doc:
                raise _malformed("the file has models but says it has none")
            continue
        names = doc.get(split)
        if not isinstance(names, dict) or len(names) > MAX_NAMES:
            raise _malformed(f"\"{split}\" is not an object of at most {MAX_NAMES} names")
        for name, cols in names.items():
            if not NAME_RE.match(name):
                raise _malformed(f"{split} has a name that is not a plain name")
            _fields(cols, fs, n, f"{split}[{name!r}]")
    if set(FIELDS) - set(fs):  # pragma: no cover - FIELDS are always there
        raise _malformed("missing columns")
    key = doc.get("key")
    if not isinstance(key, dict) or key.get("alg") != "Ed25519" or not isinstance(key.get("public"), str):
        raise Rejected("unsigned", "no Ed25519 public key in the file")
    if not isinstance(doc.get("signature"), str):
        raise Rejected("unsigned", "no signature in the file")


def check_signature(doc: dict[str, Any]) -> None:
    try:
        public = unb64(doc["key"]["public"])
        signature = unb64(doc["signature"])
    except (ValueError, TypeError):
        raise Rejected("bad_signature", "the key or signature is not base64") from None
    if len(public) != 32 or len(signature) != 64:
        raise Rejected("bad_signature", "the key or signature has the wrong length for Ed25519")
    if doc["key"].get("fingerprint") != fingerprint(public):
        raise Rejected("bad_signature", "the fingerprint does not match the public key")
    if not verify(public, signature, canonical(doc)):
        raise Rejected("bad_signature", "the signature does not verify: the file was changed after it was signed")

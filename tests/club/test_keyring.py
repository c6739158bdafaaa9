"""The club key in a real Secret Service (a private D-Bus and GNOME Keyring, tests/secret_service.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.cli.main import main
from tests.conftest import lay_out_home
from tests.secret_service import SecretService, secret_service, secret_service_session  # noqa: F401


def test_export_key_lives_in_the_secret_service(
    secret_service: SecretService, capsys: pytest.CaptureFixture[str], tmp_path: Path  # noqa: F811
) -> None:
    import keyring

    home = lay_out_home(tmp_path / "home", ("claude",))
    fingerprints = []
    for name in ("a.json", "b.json"):
        code = main(["club", "export", "--member", "zoe", "--tz", "UTC", "--out", str(tmp_path / name),
                     "--db", str(tmp_path / "i.sqlite"), "--home", str(home)])
        _, err = capsys.readouterr()
        assert code == 0, err
        fingerprints.append(json.loads((tmp_path / name).read_text())["key"]["fingerprint"])
    assert fingerprints[0] == fingerprints[1]  # created on the first export, read back on the second
    seed = keyring.get_password("tokenclub", "club/zoe")
    assert seed and seed.encode() not in (tmp_path / "a.json").read_bytes()
    if shutil.which("secret-tool"):  # the same entry as any Secret Service client sees it
        found = subprocess.run(["secret-tool", "search", "service", "tokenclub"], capture_output=True, text=True,
                               env=secret_service.env() | {"PATH": "/usr/bin:/bin"}, timeout=10)
        assert "club/zoe" in found.stdout + found.stderr
    keyring.delete_password("tokenclub", "club/zoe")

"""One app per index: a second start tells the running one to show itself, then exits."""

from __future__ import annotations

import getpass
from hashlib import sha1
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_TIMEOUT_MS = 500
SHOW = b"show\n"


def server_name(db: Path) -> str:
    """Per user and per index file: tests and a second index can run beside the usual app."""
    digest = sha1(str(db.expanduser().resolve()).encode()).hexdigest()[:12]
    return f"tokenclub-{getpass.getuser()}-{digest}"


def forward_show(name: str) -> bool:
    """Ask the instance listening on ``name`` to show itself; False when none is running."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(SHOW)
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """Listens for later starts of the app on the same index.

    Signals:
        show_requested(): another start asked this instance to come forward.
    """

    show_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.newConnection.connect(self._connected)
        if not self.server.listen(name):
            # a stale socket left by a crashed instance: nobody answered forward_show, so take it over
            QLocalServer.removeServer(name)
            self.server.listen(name)

    def close(self) -> None:
        self.server.close()

    def _connected(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(self._read)
            socket.disconnected.connect(socket.deleteLater)

    def _read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket) and SHOW.strip() in bytes(socket.readAll().data()):
            self.show_requested.emit()

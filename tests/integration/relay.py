"""A TCP relay the tests can cut, to give one process a real outage.

The web process reaches Redis or PostgreSQL through a relay; `cut()` closes
every relayed connection and refuses new ones, as a crashed or partitioned
server would, while the other processes keep their direct connections.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

_CHUNK_BYTES = 65536


class Relay:
    """Forwards connections on a local port to `upstream` until cut."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0

    @classmethod
    def for_url(cls, url: str) -> Relay:
        """A relay in front of the server named by a redis:// or postgresql:// URL."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 0)

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by this relay's."""
        parts = urlsplit(url)
        credentials, _, _ = parts.netloc.rpartition("@")
        netloc = f"{credentials}@" if credentials else ""
        netloc += f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def start(self) -> None:
        """Listen (again, on the same port once it has one) and relay."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones."""
        with self._lock:
            doomed = [*self._sockets, *([self._listener] if self._listener else [])]
            self._sockets.clear()
            self._listener = None
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                # Accepted just as a cut began: the cut did not see it.
                cut_meanwhile = self._listener is not listener
                if not cut_meanwhile:
                    self._sockets.update((client, server))
            if cut_meanwhile:
                client.close()
                server.close()
                return
            for source, target in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(source, target), daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK_BYTES):
                target.sendall(data)
        except OSError:
            pass
        # Either side closing ends both directions, as one TCP path would.
        with self._lock:
            self._sockets.difference_update((source, target))
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

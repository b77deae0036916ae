"""A TCP proxy for tests that need to lose a server's answers.

:class:`Proxy` forwards connections to an upstream address. While
:meth:`Proxy.blackhole` is on, bytes from the server are read and thrown
away, as a network that drops one direction would; :meth:`Proxy.sever`
resets every open connection and turns the blackhole off, so the client's
next connection works.
"""

from __future__ import annotations

import socket
import struct
import threading


class Proxy:
    """Forwards 127.0.0.1:<port> to upstream ("host:port")."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._blackhole = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def blackhole(self) -> None:
        """Drops everything the server sends from now on."""
        with self._lock:
            self._blackhole = True

    def sever(self) -> None:
        """Resets every open connection (RST) and stops dropping."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._blackhole = False
        for c in conns:
            _reset(c)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.sever()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._upstream)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    drop = from_server and self._blackhole
                if not drop:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            _reset(src)
            _reset(dst)


def _reset(s: socket.socket) -> None:
    """Closes a socket with a TCP reset, so the peer notices at once."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Wakes a thread blocked reading the socket, which close alone
        # does not.
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()

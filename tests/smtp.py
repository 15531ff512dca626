"""A mail server for tests: a tiny SMTP sink on a loopback port, and a port where none is.

The sink speaks just enough SMTP (RFC 5321) for :mod:`smtplib` to hand it messages,
and keeps each one as it arrived.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message


def closed_port() -> int:
    """A loopback port nothing listens on (a mail server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Session(socketserver.StreamRequestHandler):
    server: _Sink

    def handle(self) -> None:
        self._reply(220, "sink ESMTP")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ", 1)[0].upper()
            if verb == b"RCPT" and any(bad in line.lower() for bad in self.server.unknown):
                self._reply(550, "no such mailbox")  # a refusal for good
            elif verb in (b"EHLO", b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self._reply(250, "ok")
            elif verb == b"DATA":
                self._reply(354, "go ahead")
                self._receive()
            elif verb == b"QUIT":
                self._reply(221, "bye")
                return
            else:
                self._reply(502, "not implemented")

    def _receive(self) -> None:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        self.server.messages.append(message_from_bytes(b"".join(lines)))
        self._reply(250, "queued")

    def _reply(self, code: int, text: str) -> None:
        self.wfile.write(f"{code} {text}\r\n".encode())


class _Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, unknown: tuple[bytes, ...]) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.messages: list[Message] = []
        self.unknown = unknown


@contextmanager
def smtp_sink(*unknown: str) -> Iterator[tuple[int, list[Message]]]:
    """A running sink: its port, and the list its messages arrive in. Mail to the
    ``unknown`` addresses is refused with 550, as for a mailbox that does not exist."""
    sink = _Sink(tuple(address.lower().encode() for address in unknown))
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(sink.server_address[1]), sink.messages
    finally:
        sink.shutdown()
        sink.server_close()

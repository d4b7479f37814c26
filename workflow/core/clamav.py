"""Virus scanning through clamd's INSTREAM command (ClamAV from Debian's clamav-daemon).

CLAMD_ADDRESS is "unix:/path/to/clamd.sock" or "tcp:HOST:PORT". Without one the scan is
skipped (development and most tests); production refuses to start without it. A scanner
that is configured but cannot be reached refuses the file: no scan, no upload.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

CHUNK = 64 * 1024
TIMEOUT = 30


class ScannerUnavailable(Exception):
    pass


def _connect(address: str) -> socket.socket:
    kind, _, rest = address.partition(":")
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: object = rest
    elif kind == "tcp":
        host, _, port = rest.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host, int(port))
    else:
        raise ScannerUnavailable(f"CLAMD_ADDRESS 格式无效：{address}")
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(target)  # type: ignore[arg-type]
    except OSError as exc:
        sock.close()
        raise ScannerUnavailable(str(exc)) from exc
    return sock


def scan_file(address: str, path: Path) -> str | None:
    """The signature name when clamd finds one, None when the file is clean."""
    try:
        with _connect(address) as sock, path.open("rb") as data:
            sock.sendall(b"zINSTREAM\0")
            while chunk := data.read(CHUNK):
                sock.sendall(struct.pack(">I", len(chunk)) + chunk)
            sock.sendall(struct.pack(">I", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                part = sock.recv(4096)
                if not part:
                    break
                reply += part
    except OSError as exc:
        raise ScannerUnavailable(str(exc)) from exc
    text = reply.rstrip(b"\0").decode("utf-8", "replace")
    if text.endswith("OK"):
        return None
    if text.endswith("FOUND"):
        return text.removeprefix("stream:").removesuffix("FOUND").strip()
    raise ScannerUnavailable(text or "clamd 无应答")


def ping(address: str) -> bool:
    try:
        with _connect(address) as sock:
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except (OSError, ScannerUnavailable):
        return False

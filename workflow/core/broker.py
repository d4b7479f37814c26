"""The embedded broker of `make run`: kombu's filesystem transport, made safe for its reader.

kombu 5.7 writes a message straight under its final name (`<ms>_<uuid>.<queue>.msg`), so a
worker polling the folder can pick up a file that is still being written and die of a
JSONDecodeError ("Unrecoverable error"), losing the message. Here:

- a message is written under a name the reader ignores (`....msg.part`), flushed, fsynced
  and then renamed to its final name: rename is atomic on one filesystem, so the reader
  sees the whole file or nothing;
- a message the reader cannot decode (written by something else, or damaged on disk) is
  moved aside to `<processed>/bad/`, logged, and the worker goes on with the next one.

The outbox relay re-sends whatever a lost message should have done, so setting a bad one
aside loses nothing. celeryconfig registers this as the `jixiaofs://` transport.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
BAD_FOLDER = "bad"


class AtomicChannel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # The reader matches `<queue>.msg` after the first dot: `.msg.part` never matches.
        partial = final + PART_SUFFIX
        try:
            with open(partial, "wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> Any:
        wanted = f"{queue}.msg"
        processed = self.processed_folder if self.store_processed else tempfile.gettempdir()
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            source = os.path.join(self.data_folder_in, filename)
            try:
                # Taking the file is the move: of two workers only one succeeds.
                shutil.move(source, processed)
            except OSError:
                continue
            taken = os.path.join(processed, filename)
            try:
                with open(taken, "rb") as handle:
                    raw = handle.read()
                if not self.store_processed:
                    os.remove(taken)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {taken!r} from queue.") from exc
            try:
                message = loads(bytes_to_str(raw))
                if not isinstance(message, dict) or not {"body", "properties"} <= message.keys():
                    raise ValueError("not a kombu message")
            except Exception as exc:  # any undecodable message is set aside, not fatal
                self._set_aside(taken, raw, exc)
                continue
            return message
        raise Empty()

    def _set_aside(self, path: str, raw: bytes, exc: Exception) -> None:
        bad = os.path.join(str(self.processed_folder), BAD_FOLDER)
        os.makedirs(bad, exist_ok=True)
        target = os.path.join(bad, os.path.basename(path))
        try:
            if os.path.exists(path):
                os.replace(path, target)
            else:  # store_processed off: the file is gone, keep its bytes
                with open(target, "wb") as handle:
                    handle.write(raw)
        except OSError:
            log.exception("could not set the bad message %s aside", path)
        log.error(
            "消息代理：无法解析的消息已移到 %s（%s: %s），继续处理后续消息",
            target,
            type(exc).__name__,
            str(exc)[:200],
        )


class AtomicFilesystemTransport(filesystem.Transport):
    Channel = AtomicChannel

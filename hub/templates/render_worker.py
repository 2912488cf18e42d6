"""The render worker's loop: a child process of the hub that renders templates in the bounded sandbox.

``hub/templates/workers.py`` starts it with an empty environment and registers stub ``hub`` and
``hub.templates`` packages first, so this process imports only ``hub.errors``, ``hub.templates.sandbox``
and ``hub.templates.rendering`` (and Jinja): not the hub, its settings or its database. It reads each
request (4-byte length, then a pickle of ``(source, values, label, timeout)``) from the hub and answers
with JSON (4-byte length, then ``{"text": ...}`` or ``{"message": ..., "errors": [...]}``): the hub never
unpickles what a template may have influenced. It ends when the hub closes the pipe, or when the hub
kills it for taking too long.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
from typing import IO, Any

from hub.errors import InvalidArguments
from hub.templates.rendering import render

HEADER = struct.Struct(">I")  # the length of the message that follows
READY: dict[str, Any] = {"ready": True}  # the first message, once the imports are done


def _channel() -> tuple[IO[bytes], IO[bytes]]:
    """The pipes to the hub, moved off stdin and stdout: stdin is then /dev/null and stdout goes to stderr,
    so nothing printed by accident reaches the hub as an answer."""
    inbox = os.fdopen(os.dup(0), "rb")
    outbox = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return inbox, outbox


def _send(outbox: IO[bytes], message: dict[str, Any]) -> None:
    body = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    outbox.write(HEADER.pack(len(body)) + body)
    outbox.flush()


def answer(source: str, values: dict[str, Any], label: str, timeout: float) -> dict[str, Any]:
    """One rendering's reply: the text, or the refusal naming the field."""
    try:
        return {"text": render(source, values, label, timeout=timeout)}
    except InvalidArguments as exc:
        return {"message": exc.message, "errors": exc.errors}
    except Exception as exc:  # MemoryError, RuntimeError...: still the template's doing, still a 422
        return {
            "message": f"Rendering the {label} failed: {type(exc).__name__}. Simplify the template.",
            "errors": [{"field": label, "message": "render error", "type": "template_render"}],
        }


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C at the hub's terminal is the hub's to handle
    inbox, outbox = _channel()
    _send(outbox, READY)
    while True:
        header = inbox.read(HEADER.size)
        if len(header) < HEADER.size:
            return  # the hub closed the pipe (it stopped, or it is gone): nothing more to do
        (size,) = HEADER.unpack(header)
        source, values, label, timeout = pickle.loads(inbox.read(size))  # from the hub: trusted
        _send(outbox, answer(source, values, label, timeout))

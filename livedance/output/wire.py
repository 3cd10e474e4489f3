"""OSC on the wire: the address space and the byte encoding every OSC output shares.

Messages are built once as templates (address, type tags, zeroed argument slots) and bundles
packed once into one buffer; per frame the outputs write big-endian values into them through numpy
views, so no OSC builder runs per frame. The address space, units and coordinate conventions are
documented in ``docs/osc.md``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from livedance.errors import OscError

MAX_DATAGRAM = 1472
"""Largest UDP payload that fits one Ethernet frame (1500 MTU - 20 IP - 8 UDP), bytes."""

PREFIX = "/livedance"
"""Root of every address livedance sends and receives."""

BEAT_ADDRESS = PREFIX + "/beat"
ONSET_ADDRESS = PREFIX + "/onset"

IMMEDIATELY = struct.pack(">Q", 1)
"""OSC time tag meaning "now"."""
BUNDLE_HEADER = b"#bundle\x00" + IMMEDIATELY
"""Head of every bundle livedance sends (time tag "immediately")."""
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")

Int = int | np.integer[Any]
"""An integer argument: Python or numpy."""
Real = float | np.floating[Any]
"""A real argument: Python or numpy (the feature extractor hands out float32 scalars)."""


def osc_string(text: str) -> bytes:
    """OSC-string: ASCII, NUL-terminated, padded with NULs to a multiple of 4 bytes."""
    raw = text.encode("ascii")
    return raw + b"\x00" * (4 - len(raw) % 4)


def message(address: str, tags: str) -> bytes:
    """A message template: address, type tags and one zeroed 4-byte slot per argument."""
    return osc_string(address) + osc_string("," + tags) + b"\x00" * (4 * len(tags))


def header_size(address: str, n_args: int) -> int:
    """Bytes before the first argument of a message."""
    return len(osc_string(address)) + len(osc_string("," + "f" * n_args))


def osc_name(name: str) -> str:
    """Make a joint name usable as one OSC address part.

    Characters other than ASCII letters, digits, ``_``, ``.`` and ``-`` become ``_`` (OSC reserves
    space, ``#*,/?[]{}``; TouchDesigner channel names want plain identifiers).

    Raises
    ------
    OscError
        If the name is empty.
    """
    if not name:
        raise OscError("joint names must not be empty for OSC addresses")
    return _NAME_CHARS.sub("_", name)


def dancer_prefix(dancer: int) -> str:
    """Address prefix of one dancer: ``/livedance`` for dancer 0, ``/livedance/<d>`` for d >= 1."""
    return PREFIX if dancer == 0 else f"{PREFIX}/{dancer}"


def pose_address(dancer: int) -> str:
    """Native pose address of one dancer: ``/livedance/pose``, ``/livedance/1/pose``, ..."""
    return dancer_prefix(dancer) + "/pose"


def pack_bundles(
    messages: Sequence[bytes], what: str
) -> tuple[bytearray, list[memoryview], list[int]]:
    """Pack message templates greedily into bundles of at most ``MAX_DATAGRAM`` bytes.

    Parameters
    ----------
    messages : the message templates, in the order they are sent.
    what : the output's name, for the error message.

    Returns
    -------
    buffer : every bundle back to back (write values into it in place).
    datagrams : views of ``buffer``, one per bundle, to send after each write.
    ends : byte offset in ``buffer`` of the end of each message.

    Raises
    ------
    OscError
        If one message alone does not fit a datagram.
    """
    chunks: list[bytes] = []
    sizes: list[int] = []
    ends: list[int] = []
    size = 0  # of the bundle being filled
    total = 0  # bytes so far, all bundles
    for msg in messages:
        if len(BUNDLE_HEADER) + 4 + len(msg) > MAX_DATAGRAM:
            raise OscError(f"{what}: message {msg[:40]!r}... is too long for one datagram")
        if size == 0 or size + 4 + len(msg) > MAX_DATAGRAM:
            if size:
                sizes.append(size)
            chunks.append(BUNDLE_HEADER)
            size = len(BUNDLE_HEADER)
            total += size
        chunks.append(struct.pack(">i", len(msg)) + msg)
        size += 4 + len(msg)
        total += 4 + len(msg)
        ends.append(total)
    sizes.append(size)
    buffer = bytearray(b"".join(chunks))
    view = memoryview(buffer)
    datagrams = []
    start = 0
    for s in sizes:
        datagrams.append(view[start : start + s])
        start += s
    return buffer, datagrams, ends

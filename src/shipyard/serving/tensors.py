"""The Open Inference Protocol's binary tensor data extension, as Triton and KServe speak it.

A request with the header ``Inference-Header-Content-Length: N`` is N bytes of JSON (the
usual ``inputs``, ``outputs`` and ``parameters``) followed by raw tensor data: an input
whose ``parameters`` hold ``binary_data_size`` takes that many of the following bytes, in
the order of ``inputs``; an input without it carries its ``data`` in the JSON as usual.
Numbers are little-endian, of the numpy type their ``datatype`` names; a ``BYTES`` element
is its length (4 bytes, little-endian) followed by that many bytes, here UTF-8 text.
Binary data has no null: a missing number is NaN and missing text an empty element — as
an empty field of a CSV file is read as missing, never as a category — or a column with
missing values is sent in the JSON header, where ``data`` may hold null.

An answer goes out the same way when the request asks for it (``parameters``
``binary_data_output``, or an output's ``parameters.binary_data``): each such output
carries ``parameters.binary_data_size`` instead of ``data``, and the response's
``Inference-Header-Content-Length`` says where the JSON ends.

>>> tensor, _ = decode(memoryview(bytes(bytearray([3, 0, 0, 0]) + b"gas")), "BYTES", "x")
>>> tensor
['gas']
>>> decode(memoryview(encode([1.5], "FP64")), "FP64", "x")[0].tolist()
[1.5]
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from shipyard.errors import InvalidRequest

__all__ = [
    "HEADER_LENGTH",
    "NUMPY_TYPES",
    "BinaryAnswer",
    "Column",
    "binary_answer",
    "decode",
    "encode",
    "split_body",
]

HEADER_LENGTH = b"inference-header-content-length"  # as ASGI gives header names
NUMPY_TYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in {
        "BOOL": "?", "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
        "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
        "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
    }.items()
}  # fmt: skip
Column = npt.NDArray[Any] | list[Any]  # a numeric tensor stays an array; text is a list
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: bytes) -> tuple[bytes, memoryview]:
    """The JSON header and the raw tensor data of a body whose header is
    ``header_length`` bytes (the ``Inference-Header-Content-Length`` header's value)."""
    text = header_length.decode("latin-1").strip()
    if not text.isdigit():
        raise InvalidRequest(
            f"the Inference-Header-Content-Length header must be a number of bytes, not "
            f"{text[:40]!r}",
            field="Inference-Header-Content-Length",
        )
    length = int(text)
    if length > len(body):
        raise InvalidRequest(
            f"the Inference-Header-Content-Length header says the JSON header is {length} "
            f"bytes, but the body is only {len(body)} bytes",
            field="Inference-Header-Content-Length",
        )
    return body[:length], memoryview(body)[length:]


def decode(raw: memoryview, datatype: str, where: str) -> tuple[Column, int]:
    """The elements of one tensor's raw bytes (``where`` names it in errors), and how many."""
    if datatype == "BYTES":
        return _decode_bytes(raw, where)
    dtype = NUMPY_TYPES[datatype]
    if len(raw) % dtype.itemsize:
        raise InvalidRequest(
            f"{where} has {len(raw)} bytes of {datatype} data, which is not a whole number "
            f"of {dtype.itemsize}-byte elements",
            field=f"{where}.parameters.binary_data_size",
        )
    values = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL" and values.view(np.uint8).max(initial=0) > 1:
        raise InvalidRequest(
            f"{where} holds a BOOL byte other than 0 or 1", field=f"{where}.parameters"
        )
    return values, len(values)


def _decode_bytes(raw: memoryview, where: str) -> tuple[list[str | None], int]:
    # The loop per element is what binary text costs: kept to a slice, an unpack and a
    # decode each (a memoryview's slices and str() are slower than bytes').
    data = bytes(raw)
    values: list[str | None] = []
    append, unpack = values.append, _LENGTH.unpack_from
    offset, end = 0, len(data)
    try:
        while offset < end:
            start = offset + _LENGTH.size
            offset = start + unpack(data, offset)[0]
            if offset > end:
                raise InvalidRequest(
                    f"{where}'s BYTES element {len(values)} says it is {offset - start} "
                    f"bytes, but only {end - start} bytes of the tensor are left",
                    field=f"{where}.parameters.binary_data_size",
                )
            append(data[start:offset].decode() if offset > start else None)
    except struct.error:
        raise InvalidRequest(
            f"{where}'s BYTES data ends inside an element's 4-byte length",
            field=f"{where}.parameters.binary_data_size",
        ) from None
    except UnicodeDecodeError:
        raise InvalidRequest(
            f"{where}'s BYTES element {len(values)} is not UTF-8 text", field=f"{where}.data"
        ) from None
    return values, len(values)


def encode(values: Sequence[Any] | npt.NDArray[Any], datatype: str) -> bytes:
    """The raw bytes of a tensor: numbers little-endian, BYTES elements as text, each
    after its 4-byte length."""
    if datatype != "BYTES":
        return np.ascontiguousarray(values, dtype=NUMPY_TYPES[datatype]).tobytes()
    parts: list[bytes] = []
    for value in values:
        text = str(value).encode()
        parts += (_LENGTH.pack(len(text)), text)
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class BinaryAnswer:
    """An answer with binary outputs: its JSON header, then the outputs' bytes."""

    content: bytes
    header_length: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The response's headers (ASGI's), but for its length."""
        return [
            (b"content-type", b"application/octet-stream"),
            (HEADER_LENGTH, str(self.header_length).encode()),
        ]


def binary_answer(body: dict[str, Any], names: Sequence[str]) -> BinaryAnswer:
    """``body``, an Open Inference Protocol answer, with the outputs ``names`` as binary
    data: each carries ``parameters.binary_data_size`` instead of its ``data``."""
    raw = []
    for output in body["outputs"]:
        if output["name"] in names:
            data = encode(output.pop("data"), output["datatype"])
            output["parameters"] = {"binary_data_size": len(data)}
            raw.append(data)
    header = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    return BinaryAnswer(b"".join([header, *raw]), len(header))

"""The Open Inference Protocol (KServe v2) for our ONNX models: tensors to and from its JSON form, and the binary
tensor extension (Triton's: a JSON header, then each tensor's raw little-endian bytes, the header's length in the
`Inference-Header-Content-Length` HTTP header), which keeps a 768x768 image from becoming two million JSON numbers.
Pure functions: no web framework, no onnxruntime."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.errors import InvalidInputError

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_CONTENT_TYPE = "application/octet-stream"
DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(bool),
    "UINT8": np.dtype(np.uint8),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
BYTES = "BYTES"  # strings: JSON lists of text, or in binary each element's 4-byte little-endian length then its UTF-8
ONNX_TYPES = {  # onnxruntime's type strings -> v2 datatypes
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(int8)": "INT8", "tensor(int16)": "INT16",
    "tensor(int32)": "INT32", "tensor(int64)": "INT64", "tensor(float16)": "FP16", "tensor(float)": "FP32",
    "tensor(double)": "FP64", "tensor(string)": BYTES,
}  # fmt: skip
MAX_ELEMENTS = 50_000_000  # refuse absurd shapes before allocating


def datatype_of(array: np.ndarray) -> str:
    if array.dtype.kind in "OUS":
        return BYTES
    for name, dtype in DATATYPES.items():
        if array.dtype == dtype:
            return name
    raise InvalidInputError(f"dtype {array.dtype} has no v2 datatype; use one of {', '.join(DATATYPES)}.")


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as v2 metadata gives it (-1 for a dynamic dimension)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def spec_from_ort(node: Any) -> TensorSpec:
    """An onnxruntime NodeArg (name, type, shape with names or None for dynamic dims) as a TensorSpec."""
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in node.shape)
    return TensorSpec(node.name, ONNX_TYPES.get(node.type, node.type), shape)


def _strings(name: str, count: int, data: Any = None, raw: bytes | None = None) -> np.ndarray:
    """A BYTES tensor's elements as an object array of str."""
    if raw is not None:
        items, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise InvalidInputError(f"tensor {name!r}: a BYTES element's length runs past its data.")
            size = int.from_bytes(raw[offset : offset + 4], "little")
            items.append(raw[offset + 4 : offset + 4 + size])
            offset += 4 + size
            if offset > len(raw):
                raise InvalidInputError(f"tensor {name!r}: a BYTES element runs past its data.")
        try:
            values = [item.decode("utf-8") for item in items]
        except UnicodeDecodeError:
            raise InvalidInputError(f"tensor {name!r}: BYTES elements must be UTF-8 text.") from None
    else:
        flat = np.asarray(data, dtype=object).reshape(-1) if isinstance(data, list) else None
        if flat is None or not all(isinstance(v, str) for v in flat):
            raise InvalidInputError(f"tensor {name!r}: BYTES data must be a list of strings.")
        values = list(flat)
    if len(values) != count:
        raise InvalidInputError(f"tensor {name!r}: {len(values)} strings for {count} elements.")
    return np.array(values, dtype=object)


def _string_blob(array: np.ndarray) -> bytes:
    parts = []
    for value in array.reshape(-1):
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        parts.append(len(data).to_bytes(4, "little") + data)
    return b"".join(parts)


def _blob(array: np.ndarray) -> bytes:
    if datatype_of(array) == BYTES:
        return _string_blob(array)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def _array(name: str, datatype: str, shape: Sequence[Any], data: Any = None, raw: bytes | None = None) -> np.ndarray:
    if datatype != BYTES and datatype not in DATATYPES:
        raise InvalidInputError(f"tensor {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}.")
    if not isinstance(shape, list | tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                      for d in shape):  # fmt: skip
        raise InvalidInputError(f"tensor {name!r}: shape must be a list of whole numbers >= 0, got {shape!r}.")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count > MAX_ELEMENTS:
        raise InvalidInputError(f"tensor {name!r}: {count:,} elements; at most {MAX_ELEMENTS:,}.")
    if datatype == BYTES:
        return _strings(name, count, data, raw).reshape(shape)
    dtype = DATATYPES[datatype]
    if raw is not None:
        if len(raw) != count * dtype.itemsize:
            raise InvalidInputError(f"tensor {name!r}: {len(raw)} bytes for {count} {datatype} values.")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    try:
        values = np.asarray(data, dtype=dtype).reshape(-1)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"tensor {name!r}: data is not a list of {datatype} values ({err}).") from None
    if values.size != count:
        raise InvalidInputError(f"tensor {name!r}: {values.size} values for shape {list(shape)}.")
    return values.reshape(shape)


def _json_values(array: np.ndarray) -> list[Any]:
    if datatype_of(array) == BYTES:
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.reshape(-1)]
    return array.reshape(-1).tolist()


# ---- requests ---------------------------------------------------------------------------------------------------


def _pack(header: dict[str, Any], field: str, tensors: Mapping[str, np.ndarray], binary: bool) -> tuple[bytes, dict]:
    """header[field] = the tensors' descriptions (with their data in JSON, or their sizes for the binary extension);
    the body (JSON header, then the blobs) and its headers."""
    blobs = []
    header[field] = []
    for name, value in tensors.items():
        array = np.asarray(value)
        item = {"name": name, "shape": list(array.shape), "datatype": datatype_of(array)}
        if binary:
            blob = _blob(array)
            item["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            item["data"] = _json_values(array)
        header[field].append(item)
    head = json.dumps(header).encode()
    if not binary:
        return head, {"Content-Type": "application/json"}
    return head + b"".join(blobs), {"Content-Type": BINARY_CONTENT_TYPE, HEADER_LENGTH: str(len(head))}


def encode_request(
    feeds: Mapping[str, np.ndarray], outputs: Sequence[str] = (), *, binary: bool = True
) -> tuple[bytes, dict[str, str]]:
    """An infer request body and its headers; binary: the tensor extension for inputs and outputs."""
    header: dict[str, Any] = {"outputs": [{"name": o, "parameters": {"binary_data": binary}} for o in outputs]}
    return _pack(header, "inputs", feeds, binary)


def _split(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    if header_length is None:
        head, rest = body, b""
    else:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise InvalidInputError(f"{HEADER_LENGTH} must be the JSON header's length in bytes, at most the body's.")
        head, rest = body[: int(header_length)], body[int(header_length) :]
    try:
        parsed = json.loads(head)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"the request's JSON header could not be read ({err}).") from None
    if not isinstance(parsed, dict):
        raise InvalidInputError("the request's JSON header must be an object with an 'inputs' list.")
    return parsed, rest


def _tensors(items: Any, rest: bytes, what: str) -> dict[str, np.ndarray]:
    if not isinstance(items, list) or not items:
        raise InvalidInputError(f"'{what}' must be a non-empty list of tensors.")
    tensors, offset = {}, 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInputError(f"each of '{what}' must be an object with a 'name'.")
        size = (item.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(rest):
                raise InvalidInputError(f"tensor {item['name']!r}: binary_data_size {size!r} runs past the body.")
            raw, offset = rest[offset : offset + size], offset + size
            tensors[item["name"]] = _array(item["name"], item.get("datatype"), item.get("shape"), raw=raw)
        else:
            tensors[item["name"]] = _array(item["name"], item.get("datatype"), item.get("shape"), item.get("data"))
    return tensors


def decode_request(body: bytes, header_length: str | None) -> tuple[dict[str, np.ndarray], list[str], bool]:
    """(input tensors, requested output names (empty: all), whether binary outputs were asked for)."""
    parsed, rest = _split(body, header_length)
    feeds = _tensors(parsed.get("inputs"), rest, "inputs")
    wanted = parsed.get("outputs") or []
    if not isinstance(wanted, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in wanted):
        raise InvalidInputError("'outputs' must be a list of objects with a 'name'.")
    binary = any((o.get("parameters") or {}).get("binary_data") for o in wanted) or header_length is not None
    return feeds, [o["name"] for o in wanted], binary


# ---- responses --------------------------------------------------------------------------------------------------


def encode_response(model: str, version: str, outputs: Mapping[str, np.ndarray], *, binary: bool) -> tuple[bytes, dict]:
    return _pack({"model_name": model, "model_version": version}, "outputs", outputs, binary)


def decode_response(body: bytes, header_length: str | None) -> dict[str, np.ndarray]:
    parsed, rest = _split(body, header_length)
    return _tensors(parsed.get("outputs"), rest, "outputs")


def model_name(key: str) -> str:
    """A manifest key as a v2 model name (a URL path segment): housing/price -> housing__price."""
    return key.replace("/", "__")


def model_key(name: str) -> str:
    return name.replace("__", "/")

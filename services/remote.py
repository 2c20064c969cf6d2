"""A model run on a remote Open Inference Protocol (KServe v2) server instead of a local onnxruntime session: the
Registry's remote mode (PORTAL_INFERENCE_URL), so that several portal front-ends share one inference cluster.

`RemoteSession` answers the parts of onnxruntime's InferenceSession the services use (run, get_inputs,
get_outputs, get_providers, get_modelmeta) from a transport's model metadata and infer calls: `HttpTransport` speaks
v2 over HTTP (tensors in the binary extension, one kept-alive connection per thread); the Ray Serve ingress passes
its own transport that calls the model deployments directly."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from services import v2
from services.errors import ModelUnavailableError

TIMEOUT_S = 60.0
_ONNX_TYPE = {dtype: onnx for onnx, dtype in v2.ONNX_TYPES.items()}


@dataclass(frozen=True)
class RemoteArg:
    """Like onnxruntime's NodeArg: name, type string and shape (None for a dynamic dimension)."""

    name: str
    type: str
    shape: list[int | None]


@dataclass(frozen=True)
class RemoteMeta:
    custom_metadata_map: dict[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """Where a remote model's metadata and runs come from."""

    where: str  # for messages: the server's URL, or "the Ray Serve model deployments"

    def metadata(self, key: str) -> dict[str, Any]: ...

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]: ...


class HttpTransport:
    """KServe v2 over HTTP(S) at base_url (the server's root: the routes are /v2/...)."""

    def __init__(self, base_url: str, timeout: float = TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelUnavailableError(f"PORTAL_INFERENCE_URL {base_url!r} is not an http(s) URL.")
        self.where, self.timeout, self._parts = base_url.rstrip("/"), timeout, parts
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            connection = kind(self._parts.hostname, self._parts.port, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        prefix = self._parts.path.rstrip("/")
        for attempt in (0, 1):  # a kept-alive connection the server closed is opened again once
            connection = self._connection()
            try:
                connection.request(method, prefix + path, body=body, headers=headers or {})
                response = connection.getresponse()
                return response, response.read()
            except (OSError, http.client.HTTPException) as err:
                connection.close()
                self._local.connection = None
                if attempt:
                    raise ModelUnavailableError(
                        f"the inference server {self.where} did not answer ({err}); check that it runs (make serve) "
                        "or unset PORTAL_INFERENCE_URL to run the models in-process."
                    ) from None
        raise AssertionError("unreachable")

    def metadata(self, key: str) -> dict[str, Any]:
        response, data = self._request("GET", f"/v2/models/{v2.model_name(key)}")
        if response.status != 200:
            raise ModelUnavailableError(
                f"the inference server {self.where} answered {response.status} for {key}: {data[:200]!r}."
            )
        return json.loads(data)

    def infer(self, key: str, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        body, headers = v2.encode_request(feeds, outputs, binary=True)
        response, data = self._request("POST", f"/v2/models/{v2.model_name(key)}/infer", body, headers)
        if response.status != 200:
            detail = data[:300].decode("utf-8", "replace")
            raise ModelUnavailableError(
                f"the inference server {self.where} refused {key} ({response.status}): {detail}"
            )
        return v2.decode_response(data, response.getheader(v2.HEADER_LENGTH))


class RemoteSession:
    def __init__(self, transport: Transport, key: str) -> None:
        self.transport, self.key = transport, key
        meta = transport.metadata(key)
        try:
            self._inputs = [self._arg(t) for t in meta["inputs"]]
            self._outputs = [self._arg(t) for t in meta["outputs"]]
        except (KeyError, TypeError) as err:
            raise ModelUnavailableError(f"{transport.where}: malformed metadata for {key} ({err}).") from None
        parameters = meta.get("parameters") or {}
        self._providers = [f"remote {p}" for p in parameters.get("providers", ["server"])]
        self._meta = RemoteMeta(dict(parameters.get("custom_metadata", {})))

    @staticmethod
    def _arg(tensor: Mapping[str, Any]) -> RemoteArg:
        shape = [None if d < 0 else d for d in tensor["shape"]]
        return RemoteArg(tensor["name"], _ONNX_TYPE.get(tensor["datatype"], tensor["datatype"]), shape)

    def get_inputs(self) -> list[RemoteArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[RemoteArg]:
        return list(self._outputs)

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def get_modelmeta(self) -> RemoteMeta:
        return self._meta

    def run(self, output_names: Sequence[str] | None, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        names = list(output_names) if output_names else [o.name for o in self._outputs]
        outputs = self.transport.infer(self.key, feeds, names)
        return [outputs[name] for name in names]

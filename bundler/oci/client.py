"""A small client for the OCI distribution HTTP API, built on httpx.

Why not oras-py's ``Registry`` for manifests: it parses and re-serialises manifest JSON,
which changes the bytes and so the digest. Here manifests stay the RAW bytes the
registry sent, checked against the digest that names them, and blobs are streamed
(never held whole in memory). Uploads pass file objects to httpx: a ``bytes`` body is
pathologically slow there (research/stack.md section 4).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import httpx

from bundler.oci import mediatypes as mt
from bundler.oci.auth import authorization_for
from bundler.oci.config import Limits, Registries, RegistryConfig
from bundler.oci.errors import (
    AuthError,
    DigestMismatchError,
    LimitExceededError,
    NotFoundError,
    OCIError,
    RegistryResponseError,
    RegistryUnreachableError,
    UnsupportedMediaTypeError,
)
from bundler.oci.reference import Reference


@dataclass(frozen=True)
class RawManifest:
    """A manifest or index exactly as the registry served it, with its verified digest."""

    raw: bytes
    media_type: str
    digest: str

    @property
    def size(self) -> int:
        """Length of the raw bytes (the descriptor ``size``)."""
        return len(self.raw)

    def json(self) -> dict[str, Any]:
        """The parsed document (parse errors were caught when it was fetched)."""
        doc: dict[str, Any] = json.loads(self.raw)
        return doc


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of *data*."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _error_code(resp: httpx.Response) -> str:
    try:
        errors = json.loads(resp.read()).get("errors") or []
        return ", ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or "no details"
    except (ValueError, AttributeError, httpx.HTTPError):
        return "no details"


def _media_type_of(ref: Reference, raw: bytes, header: str) -> str:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise RegistryResponseError(f"image {ref}: manifest is not JSON ({exc})",
                                    entry=str(ref)) from exc
    if not isinstance(doc, dict):
        raise RegistryResponseError(f"image {ref}: manifest is not a JSON object", entry=str(ref))
    body_type = doc.get("mediaType")
    media_type = body_type if isinstance(body_type, str) and body_type else header
    if media_type in mt.DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise UnsupportedMediaTypeError(f"image {ref}: Docker schema 1 manifests are not "
                                        "supported (re-push the image with a current client)",
                                        entry=str(ref))
    if media_type not in mt.MANIFESTS | mt.INDEXES:
        raise UnsupportedMediaTypeError(f"image {ref}: unsupported manifest media type "
                                        f"{media_type!r}", entry=str(ref))
    return media_type


class RegistryClient:
    """Talks to registries named in references; one httpx connection pool per host."""

    def __init__(self, registries: Registries | None = None, limits: Limits | None = None, *,
                 timeout: float = 60.0) -> None:
        self.registries = registries or Registries()
        self.limits = limits or Limits()
        self._timeout = timeout
        self._clients: dict[str, httpx.Client] = {}
        self._auth: dict[tuple[str, str], str] = {}
        self._bases: dict[str, str] = {}

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection pool."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- transport ---------------------------------------------------------------------

    def _config(self, ref: Reference) -> RegistryConfig:
        return self.registries.get(ref.registry)

    def _http(self, cfg: RegistryConfig) -> httpx.Client:
        if cfg.host not in self._clients:
            verify: Any = cfg.ca_file or True
            self._clients[cfg.host] = httpx.Client(timeout=self._timeout, verify=verify,
                                                   follow_redirects=True)
        return self._clients[cfg.host]

    def _base_url(self, ref: Reference, cfg: RegistryConfig, http: httpx.Client) -> str:
        """The ``scheme://host`` requests to *cfg* go to, chosen once per host.

        One candidate (``RegistryConfig.base_urls``): that one. Two (a loopback registry:
        https, then http): the first that gives any HTTP answer to ``GET /v2/``, like
        go-containerregistry's ping. Nothing is probed for other hosts.

        Raises:
            RegistryUnreachableError: no candidate answers.
        """
        urls = cfg.base_urls
        if len(urls) == 1:
            return urls[0]
        if cfg.host not in self._bases:
            failures: list[str] = []
            for base in urls:
                try:
                    with http.stream("GET", base + "/v2/"):
                        pass
                except httpx.HTTPError as exc:
                    failures.append(f"{base}: {type(exc).__name__}: {exc}")
                    continue
                self._bases[cfg.host] = base
                break
            else:
                raise RegistryUnreachableError(
                    f"image {ref}: registry {cfg.host} unreachable ({'; '.join(failures)})",
                    entry=str(ref))
        return self._bases[cfg.host]

    def _send(self, ref: Reference, method: str, path: str, *, push: bool = False,
              headers: dict[str, str] | None = None, content: Any = None,
              params: dict[str, str] | None = None) -> httpx.Response:
        """Send one request (streamed response), answering an auth challenge once."""
        cfg = self._config(ref)
        http = self._http(cfg)
        scope = f"repository:{ref.repository}:{'pull,push' if push else 'pull'}"
        base = self._base_url(ref, cfg, http)
        url = path if path.startswith(("http://", "https://")) else base + path
        for attempt in (0, 1):
            hdrs = dict(headers or {})
            if (cfg.host, scope) in self._auth:
                hdrs["Authorization"] = self._auth[(cfg.host, scope)]
            if attempt and hasattr(content, "seek"):
                content.seek(0)
            try:
                req = http.build_request(method, url, headers=hdrs, content=content, params=params)
                resp = http.send(req, stream=True)
            except httpx.HTTPError as exc:
                raise RegistryUnreachableError(
                    f"image {ref}: registry {cfg.host} unreachable at {base} "
                    f"({type(exc).__name__}: {exc})", entry=str(ref)) from exc
            if resp.status_code != 401 or attempt:
                break
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.close()
            self._auth[(cfg.host, scope)] = authorization_for(
                http, challenge, cfg.credentials, scope, str(ref))
        if resp.status_code in (401, 403):
            resp.close()
            raise AuthError(f"image {ref}: registry {cfg.host} refused access "
                            f"(HTTP {resp.status_code})", entry=str(ref))
        return resp

    def _fail(self, ref: Reference, resp: httpx.Response, what: str) -> OCIError:
        detail = _error_code(resp)
        resp.close()
        if resp.status_code == 404:
            return NotFoundError(f"image {ref}: {what} not found in registry ({detail})",
                                 entry=str(ref))
        return RegistryResponseError(f"image {ref}: {what}: registry answered HTTP "
                                     f"{resp.status_code} ({detail})", entry=str(ref))

    # -- manifests ---------------------------------------------------------------------

    def get_manifest(self, ref: Reference, identifier: str | None = None) -> RawManifest:
        """Fetch a manifest or index by tag or digest, as raw verified bytes.

        The digest is sha256 of the raw bytes; it must equal the requested digest (if
        the identifier is one) and the registry's ``Docker-Content-Digest`` header.

        Raises:
            NotFoundError, DigestMismatchError, LimitExceededError,
            UnsupportedMediaTypeError, RegistryUnreachableError, AuthError.
        """
        ident = identifier or ref.identifier
        resp = self._send(ref, "GET", f"/v2/{ref.repository}/manifests/{ident}",
                          headers={"Accept": mt.ACCEPT})
        if resp.status_code != 200:
            what = f"manifest {ident}" if ident.startswith("sha256:") else f"tag {ident!r}"
            raise self._fail(ref, resp, what)
        raw = self._read_bounded(ref, resp, self.limits.max_manifest_bytes, f"manifest {ident}")
        digest = sha256_digest(raw)
        if ident.startswith("sha256:") and digest != ident:
            raise DigestMismatchError(f"image {ref}: manifest bytes hash to {digest}, "
                                      f"expected {ident}", entry=str(ref))
        header = resp.headers.get("Docker-Content-Digest")
        if header and header != digest:
            raise DigestMismatchError(f"image {ref}: manifest bytes hash to {digest} but the "
                                      f"registry says {header}", entry=str(ref))
        content_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return RawManifest(raw, _media_type_of(ref, raw, content_type), digest)

    def _read_bounded(self, ref: Reference, resp: httpx.Response, limit: int, what: str) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            resp.close()
            raise LimitExceededError(f"image {ref}: {what} is {declared} bytes, limit {limit}",
                                     entry=str(ref))
        chunks, total = [], 0
        try:
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > limit:
                    raise LimitExceededError(f"image {ref}: {what} is over the {limit}-byte "
                                             "limit", entry=str(ref))
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise RegistryUnreachableError(f"image {ref}: reading {what} failed: {exc}",
                                           entry=str(ref)) from exc
        finally:
            resp.close()
        return b"".join(chunks)

    def put_manifest(self, ref: Reference, identifier: str, raw: bytes, media_type: str) -> str:
        """PUT *raw* (unchanged) as a manifest under a tag or digest; returns its digest.

        Raises:
            DigestMismatchError: the registry reports a different digest than sha256(raw).
        """
        digest = sha256_digest(raw)
        resp = self._send(ref, "PUT", f"/v2/{ref.repository}/manifests/{identifier}", push=True,
                          headers={"Content-Type": media_type}, content=raw)
        if resp.status_code not in (200, 201):
            raise self._fail(ref, resp, f"manifest upload {identifier}")
        resp.close()
        header = resp.headers.get("Docker-Content-Digest")
        if header and header != digest:
            raise DigestMismatchError(f"image {ref}: registry stored manifest as {header}, "
                                      f"we sent {digest}", entry=str(ref))
        return digest

    # -- blobs -------------------------------------------------------------------------

    @contextmanager
    def open_blob(self, ref: Reference, digest: str) -> Iterator[Iterator[bytes]]:
        """Stream a blob's bytes (the caller hashes and counts them)."""
        resp = self._send(ref, "GET", f"/v2/{ref.repository}/blobs/{digest}")
        if resp.status_code != 200:
            raise self._fail(ref, resp, f"blob {digest}")

        def chunks() -> Iterator[bytes]:
            try:
                yield from resp.iter_bytes(1024 * 1024)
            except httpx.HTTPError as exc:
                raise RegistryUnreachableError(f"image {ref}: reading blob {digest} failed: "
                                               f"{exc}", entry=digest) from exc
        try:
            yield chunks()
        finally:
            resp.close()

    def blob_exists(self, ref: Reference, digest: str) -> bool:
        """True if the repository already holds *digest*."""
        resp = self._send(ref, "HEAD", f"/v2/{ref.repository}/blobs/{digest}", push=True)
        resp.close()
        return resp.status_code == 200

    def upload_blob(self, ref: Reference, digest: str, size: int, fileobj: IO[bytes]) -> None:
        """Monolithic upload: POST for a session, then PUT the file object, streamed.

        Raises:
            RegistryResponseError: the registry rejects the upload (e.g. digest invalid).
        """
        resp = self._send(ref, "POST", f"/v2/{ref.repository}/blobs/uploads/", push=True)
        if resp.status_code != 202 or "Location" not in resp.headers:
            raise self._fail(ref, resp, f"blob upload session for {digest}")
        resp.close()
        # Merge, not replace: the Location carries upload state in its query string.
        location = resp.url.join(resp.headers["Location"]).copy_merge_params({"digest": digest})
        resp = self._send(ref, "PUT", str(location), push=True,
                          content=fileobj, headers={"Content-Type": "application/octet-stream",
                                                    "Content-Length": str(size)})
        if resp.status_code != 201:
            raise self._fail(ref, resp, f"blob upload {digest}")
        resp.close()

"""Key directories on disk: ``DIR/key.pub.json`` (public) and ``DIR/key.pem`` (private, mode 0600).

``--key DIR`` everywhere names such a directory; a directory holding only ``key.pub.json``
is a public key (enough to build a trust root, not to sign).
"""

from __future__ import annotations

import os
from pathlib import Path

from kit import canonical
from kit.crypto.keys import PublicKey, Signer, load_private_pem, public_key_from_dict
from kit.errors import Conflict, KitError, KitIOError
from kit.inputfile import read_file

PUBLIC_FILE = "key.pub.json"
PRIVATE_FILE = "key.pem"


class KeyDirError(KitIOError):
    """A key directory cannot be read or written."""

    kind = "bad-key-dir"


class KeyExistsError(KitError, Conflict):
    """The key directory already holds a key (``--force`` replaces it)."""

    kind = "key-exists"


def write_key_dir(directory: Path, signer: Signer, *, force: bool = False) -> None:
    """Write a new key directory; refuses to overwrite a key unless *force*.

    Raises:
        KeyDirError: the directory already holds a key, or cannot be written.
    """
    priv, pub = directory / PRIVATE_FILE, directory / PUBLIC_FILE
    if not force and (priv.exists() or pub.exists()):
        raise KeyExistsError(f"{directory} already holds a key (use --force to replace it)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = os.open(priv, flags, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(signer.private_pem())
        os.chmod(priv, 0o600)
        data = canonical.dumps({**signer.public_key.to_dict(), "keyid": signer.keyid})
        pub.write_bytes(data + b"\n")
    except OSError as exc:
        raise KeyDirError(f"cannot write key to {directory}: {exc.strerror}") from None


def load_public_key_file(path: Path) -> PublicKey:
    """Read ``key.pub.json`` (or a file of the same shape); the ``keyid`` field, if any, must match."""
    try:
        data = canonical.loads(read_file(path, "key"))
    except canonical.CanonicalJSONError as exc:
        raise KeyDirError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise KeyDirError(f"{path}: a public key must be a JSON object")
    claimed = data.pop("keyid", None)
    key = public_key_from_dict(data, str(path))
    if claimed is not None and claimed != key.keyid:
        raise KeyDirError(f"{path}: keyid {claimed} does not match the key ({key.keyid})")
    return key


def load_key_dir(directory: Path, *, need_private: bool = True) -> tuple[PublicKey, Signer | None]:
    """Load a key directory: the public key, and the signer when the private key is there.

    Raises:
        KeyDirError: missing or unreadable files, or public and private halves that disagree.
    """
    directory = Path(directory)
    if directory.is_file():
        raise KeyDirError(f"{directory} is a file; --key names a key directory (made by keygen --out DIR)")
    priv = directory / PRIVATE_FILE
    signer: Signer | None = None
    if priv.exists():
        signer = load_private_pem(read_file(priv, "key"), str(priv))
    elif need_private:
        raise KeyDirError(f"{directory} holds no private key ({PRIVATE_FILE}); signing needs one")
    pub_path = directory / PUBLIC_FILE
    if pub_path.exists():
        public = load_public_key_file(pub_path)
        if signer is not None and public != signer.public_key:
            raise KeyDirError(f"{directory}: {PUBLIC_FILE} does not belong to {PRIVATE_FILE}")
    elif signer is not None:
        public = signer.public_key
    else:
        raise KeyDirError(f"{directory} holds no key ({PUBLIC_FILE} or {PRIVATE_FILE})")
    return public, signer

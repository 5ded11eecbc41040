#!/usr/bin/env python3
"""Independent CipherDrop v1 decryptor, written from docs/FORMAT.md alone.

No Rust source was consulted: this file exists to show that the specification is
sufficient to interoperate with the reference implementation byte for byte.
Dependencies: the Python 3.11 standard library and `cryptography` (its Argon2id,
which needs OpenSSL 3.2 or later, only for passphrase-protected files), and
`pyhpke` (tests/interop/requirements.txt) for x25519-hpke keys (section 2.5): an
HPKE (RFC 9180) written apart from the Rust `hpke` crate the reference uses, so
it checks the Rust side rather than repeating it. Without pyhpke those vectors
are skipped with a message saying how to install it.

Library use:
    decrypt(file_bytes, master_key, key_name, expected_context) -> plaintext
    decrypt_with_passphrase(file_bytes, passphrase, expected_context) -> plaintext
    decrypt_with_identity(file_bytes, x25519_private_key, expected_context) -> plaintext
raise FormatError(code) with the codes of FORMAT.md section 9 and never return
plaintext that did not verify.

Command line:
    decrypt.py --vectors DIR
        replay every *.vector file in DIR (FORMAT.md section 11)
    decrypt.py --key-file K [--key-name master] [--context k=v]... IN OUT
        decrypt one file with a raw-aes master key (K holds 32 raw bytes);
        repeat --context once per entry
    decrypt.py --passphrase-file P [--context k=v]... IN OUT
        decrypt one file with the passphrase on P's first line
        (passphrase-argon2id, section 2.4)
    decrypt.py --identity F [--context k=v]... IN OUT
        decrypt one file with the X25519 private key in F (a CDSECRET1... line,
        as `cipherdrop keygen --x25519` writes; x25519-hpke, section 2.5)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

try:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
except ImportError:  # cryptography < 44
    Argon2id = None

try:
    import pyhpke
except ImportError:
    pyhpke = None

MAGIC = b"CIPHDROP"
VERSION = 0x01
SUITE = 0x0001
PREFIX_LEN = 15
HEADER_MIN = 135
HEADER_MAX = 65536
CHUNK_MIN = 4096
CHUNK_MAX = 16 * 1024 * 1024
MAX_CHUNKS = 2**32
LENGTH_NOT_RECORDED = 0xFFFF_FFFF_FFFF_FFFF
TAG_LEN = 16  # AES-GCM tag of a chunk or a wrapped key
HEADER_TAG_LEN = 32  # HMAC-SHA-256, section 4
TRAILER_LEN = 32 + HEADER_TAG_LEN  # key commitment || header tag

CONTEXT_MAX_ENTRIES = 32
CONTEXT_KEY_MAX = 256
CONTEXT_VALUE_MAX = 1024
WRAPPED_MAX_ENTRIES = 16
PROVIDER_ID_MAX = 64
PROVIDER_INFO_MAX = 1024
BLOB_MAX = 4096

RAW_AES = b"raw-aes"
RAW_AES_NONCE_LEN = 12
RAW_AES_BLOB_LEN = RAW_AES_NONCE_LEN + 32 + TAG_LEN

PASSPHRASE = b"passphrase-argon2id"
ARGON2_MAX_MEMORY_KIB = 64 * 1024
ARGON2_MAX_PASSES = 4
ARGON2_MAX_LANES = 4
# Section 2.4: decimals without sign or leading zeros, 16-byte salt in lowercase hex.
_DECIMAL = rb"(0|[1-9][0-9]*)"
PASSPHRASE_INFO = re.compile(
    rb"argon2id\$v=19\$m=" + _DECIMAL + rb",t=" + _DECIMAL + rb",p=" + _DECIMAL
    + rb"\$([0-9a-f]{32})"
)

X25519_HPKE = b"x25519-hpke"
X25519_KEY_LEN = 32
X25519_HPKE_BLOB_LEN = X25519_KEY_LEN + 32 + TAG_LEN  # enc || sealed data key || tag
X25519_HPKE_INFO_LABEL = b"CipherDrop v1 x25519-hpke"

SUITE_SUFFIX = bytes([VERSION]) + SUITE.to_bytes(2, "big")
LABEL_CONTENT = b"CipherDrop v1 content key"
LABEL_HEADER = b"CipherDrop v1 header key"
LABEL_COMMITMENT = b"CipherDrop v1 commitment"


class FormatError(Exception):
    """A file that must be refused; `code` is one of FORMAT.md section 9."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class WrappedKey:
    provider_id: bytes
    provider_info: bytes
    blob: bytes


@dataclass(frozen=True)
class Header:
    length: int
    chunk_size: int
    plaintext_length: int | None  # None: not recorded
    message_id: bytes
    context: list[tuple[bytes, bytes]]
    canonical_context: bytes
    wrapped_keys: list[WrappedKey]
    commitment: bytes
    tag: bytes
    raw: bytes  # all H header bytes


class _Reader:
    """Bounded cursor over the header body; never reads past `end`."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise FormatError("MALFORMED_HEADER", f"{what} runs past the header")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def field(self, what: str, minimum: int, maximum: int) -> bytes:
        """A u16-length-prefixed field; the length is checked before it is read."""
        n = self.u16(f"{what} length")
        if n > maximum:
            raise FormatError("LIMIT_EXCEEDED", f"{what} is {n} bytes (max {maximum})")
        if n < minimum:
            raise FormatError("MALFORMED_HEADER", f"{what} is {n} bytes (min {minimum})")
        return self.take(n, what)


def _check_utf8(raw: bytes, what: str) -> None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("MALFORMED_HEADER", f"{what} is not UTF-8") from None


def parse_header(data: bytes) -> Header:
    """Parse and limit-check the header at the start of `data` (section 2, 7)."""
    if len(data) < PREFIX_LEN:
        # Section 2: judged by the magic alone (empty input is not a prefix).
        if data and MAGIC.startswith(data[:8]):
            raise FormatError("TRUNCATED", "input shorter than the 15-byte prefix")
        raise FormatError("NOT_CIPHERDROP", "bad magic")
    if data[0:8] != MAGIC:
        raise FormatError("NOT_CIPHERDROP", "bad magic")
    if data[8] != VERSION:
        raise FormatError("UNSUPPORTED_VERSION", f"version {data[8]}")
    suite = int.from_bytes(data[9:11], "big")
    if suite != SUITE:
        raise FormatError("UNSUPPORTED_SUITE", f"suite {suite:#06x}")
    h = int.from_bytes(data[11:15], "big")
    if h > HEADER_MAX:
        raise FormatError("LIMIT_EXCEEDED", f"header length {h} > {HEADER_MAX}")
    if h < HEADER_MIN:
        raise FormatError("MALFORMED_HEADER", f"header length {h} < {HEADER_MIN}")
    if len(data) < h:
        raise FormatError("TRUNCATED", f"input ends inside the {h}-byte header")

    r = _Reader(data, PREFIX_LEN, h - TRAILER_LEN)
    chunk_size = int.from_bytes(r.take(4, "chunk size"), "big")
    if not (CHUNK_MIN <= chunk_size <= CHUNK_MAX) or chunk_size & (chunk_size - 1):
        raise FormatError("INVALID_CHUNK_SIZE", f"chunk size {chunk_size}")
    length_field = int.from_bytes(r.take(8, "plaintext length"), "big")
    plaintext_length = None if length_field == LENGTH_NOT_RECORDED else length_field
    if plaintext_length is not None and -(-plaintext_length // chunk_size) > MAX_CHUNKS:
        raise FormatError("LIMIT_EXCEEDED", f"plaintext length {plaintext_length}")
    message_id = r.take(32, "message id")

    context_start = r.pos
    count = r.u16("context count")
    if count > CONTEXT_MAX_ENTRIES:
        raise FormatError("LIMIT_EXCEEDED", f"{count} context entries")
    context: list[tuple[bytes, bytes]] = []
    for _ in range(count):
        key = r.field("context key", 1, CONTEXT_KEY_MAX)
        value = r.field("context value", 0, CONTEXT_VALUE_MAX)
        _check_utf8(key, "context key")
        _check_utf8(value, "context value")
        if context and key <= context[-1][0]:
            raise FormatError("MALFORMED_HEADER", "context keys unsorted or duplicated")
        context.append((key, value))
    canonical_context = data[context_start : r.pos]

    count = r.u16("wrapped key count")
    if count > WRAPPED_MAX_ENTRIES:
        raise FormatError("LIMIT_EXCEEDED", f"{count} wrapped keys")
    if count < 1:
        raise FormatError("MALFORMED_HEADER", "no wrapped key")
    wrapped_keys: list[WrappedKey] = []
    for _ in range(count):
        provider_id = r.field("provider id", 1, PROVIDER_ID_MAX)
        if any(not 0x21 <= b <= 0x7E for b in provider_id):
            raise FormatError("MALFORMED_HEADER", "provider id not printable ASCII")
        provider_info = r.field("provider info", 0, PROVIDER_INFO_MAX)
        blob = r.field("wrapped key blob", 1, BLOB_MAX)
        wrapped_keys.append(WrappedKey(provider_id, provider_info, blob))

    if r.pos != h - TRAILER_LEN:
        raise FormatError(
            "MALFORMED_HEADER", f"{h - r.pos} bytes after the wrapped keys, expected 48"
        )
    return Header(
        length=h,
        chunk_size=chunk_size,
        plaintext_length=plaintext_length,
        message_id=message_id,
        context=context,
        canonical_context=canonical_context,
        wrapped_keys=wrapped_keys,
        commitment=data[h - TRAILER_LEN : h - HEADER_TAG_LEN],
        tag=data[h - HEADER_TAG_LEN : h],
        raw=data[:h],
    )


def _expected_entries(expected_context: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in expected_context.items())


def _unwrap_raw_aes(header: Header, master_key: bytes, key_name: str) -> bytes:
    """Section 2.3: the first raw-aes entry named `key_name` that opens."""
    aead = AESGCM(master_key)
    name = key_name.encode("utf-8")
    for wk in header.wrapped_keys:
        if wk.provider_id != RAW_AES or wk.provider_info != name:
            continue
        if len(wk.blob) != RAW_AES_BLOB_LEN:
            continue
        nonce, sealed = wk.blob[:RAW_AES_NONCE_LEN], wk.blob[RAW_AES_NONCE_LEN:]
        try:
            return aead.decrypt(nonce, sealed, header.canonical_context)
        except InvalidTag:
            continue
    raise FormatError("WRONG_KEY", f"no raw-aes entry named {key_name!r} opens")


def argon2id_unavailable() -> str | None:
    """Why passphrase files cannot be opened here, or None when they can."""
    if Argon2id is None:
        return "this `cryptography` has no Argon2id (needs cryptography >= 44)"
    try:
        Argon2id(salt=bytes(16), length=32, iterations=1, lanes=1, memory_cost=8).derive(b"")
    except Exception as e:  # UnsupportedAlgorithm: OpenSSL older than 3.2
        return f"Argon2id is unavailable ({e})"
    return None


def _parse_passphrase_info(info: bytes) -> tuple[int, int, int, bytes]:
    """Section 2.4: (memory KiB, passes, lanes, salt); syntax, then caps, then minimums."""
    m = PASSPHRASE_INFO.fullmatch(info)
    if m is None:
        raise FormatError("MALFORMED_HEADER", f"unreadable Argon2id parameters {info!r}")
    memory, passes, lanes = (int(g) for g in m.group(1, 2, 3))
    if memory > ARGON2_MAX_MEMORY_KIB or passes > ARGON2_MAX_PASSES or lanes > ARGON2_MAX_LANES:
        raise FormatError("LIMIT_EXCEEDED", f"Argon2id m={memory} t={passes} p={lanes}")
    if passes < 1 or lanes < 1 or memory < 8 * lanes:
        raise FormatError("MALFORMED_HEADER", f"Argon2id m={memory} t={passes} p={lanes}")
    return memory, passes, lanes, bytes.fromhex(m.group(4).decode("ascii"))


def _unwrap_passphrase(header: Header, passphrase: bytes) -> bytes:
    """Section 2.4: the first passphrase-argon2id entry only (one Argon2id run)."""
    wk = next((w for w in header.wrapped_keys if w.provider_id == PASSPHRASE), None)
    if wk is None:
        raise FormatError("WRONG_KEY", "no passphrase-argon2id entry")
    memory, passes, lanes, salt = _parse_passphrase_info(wk.provider_info)
    if len(wk.blob) != RAW_AES_BLOB_LEN:
        raise FormatError("WRONG_KEY", "the passphrase entry's blob is not 60 bytes")
    reason = argon2id_unavailable()
    if reason:
        raise RuntimeError(reason)
    kek = Argon2id(
        salt=salt, length=32, iterations=passes, lanes=lanes, memory_cost=memory
    ).derive(passphrase)
    nonce, sealed = wk.blob[:RAW_AES_NONCE_LEN], wk.blob[RAW_AES_NONCE_LEN:]
    try:
        return AESGCM(kek).decrypt(nonce, sealed, header.canonical_context)
    except InvalidTag:
        raise FormatError("WRONG_KEY", "the passphrase does not open this file") from None


def hpke_unavailable() -> str | None:
    """Why x25519-hpke files cannot be opened here, or None when they can."""
    if pyhpke is None:
        return (
            "pyhpke is not installed (pip install -r tests/interop/requirements.txt)"
        )
    return None


def _hpke_suite():
    # Section 2.5: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, base mode.
    return pyhpke.CipherSuite.new(
        pyhpke.KEMId.DHKEM_X25519_HKDF_SHA256, pyhpke.KDFId.HKDF_SHA256, pyhpke.AEADId.AES256_GCM
    )


def hpke_info(canonical_context: bytes) -> bytes:
    """Section 2.5: the label, a zero byte, the canonical context."""
    return X25519_HPKE_INFO_LABEL + b"\x00" + canonical_context


def x25519_public_key(private_key: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def _unwrap_x25519(header: Header, private_key: bytes) -> bytes:
    """Section 2.5: the first x25519-hpke entry for our public key that opens."""
    reason = hpke_unavailable()
    if reason:
        raise RuntimeError(reason)
    suite = _hpke_suite()
    public_key = x25519_public_key(private_key)
    skr = suite.kem.deserialize_private_key(private_key)
    info = hpke_info(header.canonical_context)
    for wk in header.wrapped_keys:
        if wk.provider_id != X25519_HPKE or wk.provider_info != public_key:
            continue
        if len(wk.blob) != X25519_HPKE_BLOB_LEN:
            continue
        enc, sealed = wk.blob[:X25519_KEY_LEN], wk.blob[X25519_KEY_LEN:]
        try:
            # pyhpke 0.6.5's single-shot open is not implemented: a context, then open.
            return suite.create_recipient_context(enc, skr, info).open(sealed, b"")
        except (pyhpke.PyHPKEError, ValueError):
            # OpenError; a low-order enc (all-zero X25519 result) is a ValueError
            # from `cryptography` or a PyHPKEError, depending on where it is caught.
            continue
    raise FormatError("WRONG_KEY", "no x25519-hpke entry for this identity opens")


def hpke_reseal(
    public_key: bytes, ikm_e: bytes, data_key: bytes, canonical_context: bytes
) -> bytes:
    """Section 2.5's writer with the ephemeral key DeriveKeyPair(ikmE): enc || ct."""
    suite = _hpke_suite()
    eks = suite.kem.derive_key_pair(ikm_e)
    enc, ctx = suite.create_sender_context(
        suite.kem.deserialize_public_key(public_key), hpke_info(canonical_context), eks=eks
    )
    return enc + ctx.seal(data_key, b"")


_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _bech32_polymod(values: list[int]) -> int:
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def decode_key_text(text: str, hrp: str) -> bytes:
    """Section 2.5's text forms: bech32m (BIP 350) with `hrp`, 32 bytes."""
    if text != text.lower() and text != text.upper():
        raise ValueError("mixed case")
    text = text.lower()
    got_hrp, sep, rest = text.rpartition("1")
    if not sep or got_hrp != hrp or len(rest) < 6 or any(c not in _BECH32_CHARSET for c in rest):
        raise ValueError(f"not a {hrp}1... key")
    data = [_BECH32_CHARSET.index(c) for c in rest]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _bech32_polymod(expanded + data) != _BECH32M_CONST:
        raise ValueError("bad checksum")
    acc = bits = 0
    out = bytearray()
    for v in data[:-6]:
        acc = acc << 5 | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append(acc >> bits & 0xFF)
    if bits >= 5 or acc & ((1 << bits) - 1) or len(out) != X25519_KEY_LEN:
        raise ValueError("not 32 bytes")
    return bytes(out)


def _hkdf_expand(prk: bytes, label: bytes) -> bytes:
    return HKDFExpand(hashes.SHA512(), 32, label + SUITE_SUFFIX).derive(prk)


def derive_keys(data_key: bytes, message_id: bytes) -> tuple[bytes, bytes, bytes]:
    """Section 3: (content key, header key, commitment)."""
    prk = hmac.new(message_id, data_key, hashlib.sha512).digest()  # HKDF-Extract
    return (
        _hkdf_expand(prk, LABEL_CONTENT),
        _hkdf_expand(prk, LABEL_HEADER),
        _hkdf_expand(prk, LABEL_COMMITMENT),
    )


def _nonce(index: int, final: bool) -> bytes:
    return b"\x00\x00\x00" + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _open_chunk(aead: AESGCM, index: int, final: bool, chunk: bytes) -> bytes:
    """Open chunk `index`; on failure, tell a cut or an extension apart (section 5)."""
    try:
        return aead.decrypt(_nonce(index, final), chunk, None)
    except InvalidTag:
        pass
    try:
        aead.decrypt(_nonce(index, not final), chunk, None)
    except InvalidTag:
        raise FormatError("DECRYPTION_FAILED", f"chunk {index}") from None
    if final:
        raise FormatError("TRUNCATED", f"chunk {index} was sealed as non-final")
    raise FormatError("TRAILING_DATA", f"chunk {index} was sealed as final")


@dataclass(frozen=True)
class Unwrap:
    """How to get the data key; `guessable` for a passphrase (section 2.4)."""

    unwrap: Callable[[Header], bytes]
    guessable: bool


def raw_aes_key(master_key: bytes, key_name: str) -> Unwrap:
    if len(master_key) != 32:
        raise ValueError("the master key must be 32 bytes")
    return Unwrap(lambda header: _unwrap_raw_aes(header, master_key, key_name), False)


def passphrase_key(passphrase: bytes) -> Unwrap:
    return Unwrap(lambda header: _unwrap_passphrase(header, passphrase), True)


def identity_key(private_key: bytes) -> Unwrap:
    if len(private_key) != X25519_KEY_LEN:
        raise ValueError("an X25519 private key is 32 bytes")
    return Unwrap(lambda header: _unwrap_x25519(header, private_key), False)


def _verified_chunks(
    data: bytes, unwrap: Unwrap, expected_context: dict[str, str]
) -> Iterator[bytes]:
    """Yield each chunk's plaintext only after its tag verified, in order.

    Raises FormatError at the first problem; a caller that collected earlier
    chunks must discard them unless the generator finished normally.
    """
    header = parse_header(data)
    if header.context != _expected_entries(expected_context):
        raise FormatError("CONTEXT_MISMATCH")
    data_key = unwrap.unwrap(header)
    content_key, header_key, commitment = derive_keys(data_key, header.message_id)
    if not hmac.compare_digest(commitment, header.commitment):
        # Section 2.4: with a passphrase, the same answer as a blob that does not open.
        raise FormatError("WRONG_KEY" if unwrap.guessable else "COMMITMENT_MISMATCH")
    expected_tag = hmac.new(header_key, header.raw[:-HEADER_TAG_LEN], hashlib.sha256).digest()
    if not hmac.compare_digest(expected_tag, header.tag):
        raise FormatError("HEADER_AUTH_FAILED")

    aead = AESGCM(content_key)
    c = header.chunk_size
    pos = header.length
    if header.plaintext_length is not None:
        length = header.plaintext_length
        n = max(1, -(-length // c))
        for i in range(n):
            final = i == n - 1
            size = (length - i * c if final else c) + TAG_LEN
            if len(data) - pos < size:
                raise FormatError("TRUNCATED", f"input ends inside chunk {i}")
            yield _open_chunk(aead, i, final, data[pos : pos + size])
            pos += size
        if pos != len(data):
            raise FormatError("TRAILING_DATA", f"{len(data) - pos} bytes after the final chunk")
        return

    full = c + TAG_LEN
    i = 0
    while True:
        if i >= MAX_CHUNKS:
            raise FormatError("TOO_LARGE", "more than 2^32 chunks")
        remaining = len(data) - pos
        if i == MAX_CHUNKS - 1 and remaining > full:
            raise FormatError("TOO_LARGE", "a non-final chunk at index 2^32 - 1")
        if remaining == 0:
            raise FormatError("TRUNCATED", f"input ends before chunk {i} without a final chunk")
        if remaining > full:
            yield _open_chunk(aead, i, False, data[pos : pos + full])
            pos += full
            i += 1
            continue
        if remaining < TAG_LEN or (remaining == TAG_LEN and i > 0):
            # Section 6: r <= 16 is impossible except for the empty file.
            raise FormatError("TRUNCATED", f"{remaining} bytes left for final chunk {i}")
        yield _open_chunk(aead, i, True, data[pos:])
        return


def decrypt(
    file_bytes: bytes, master_key: bytes, key_name: str, expected_context: dict[str, str]
) -> bytes:
    """Decrypt a whole CipherDrop v1 file or raise FormatError; all-or-nothing."""
    return b"".join(
        _verified_chunks(file_bytes, raw_aes_key(master_key, key_name), expected_context)
    )


def decrypt_with_passphrase(
    file_bytes: bytes, passphrase: bytes, expected_context: dict[str, str]
) -> bytes:
    """As decrypt(), for a passphrase-argon2id file (section 2.4)."""
    return b"".join(_verified_chunks(file_bytes, passphrase_key(passphrase), expected_context))


def decrypt_with_identity(
    file_bytes: bytes, private_key: bytes, expected_context: dict[str, str]
) -> bytes:
    """As decrypt(), for an x25519-hpke entry (section 2.5)."""
    return b"".join(_verified_chunks(file_bytes, identity_key(private_key), expected_context))


# --------------------------------------------------------------------------- CLI


@dataclass(frozen=True)
class Vector:
    fields: dict[str, list[str]]
    body: bytes

    def one(self, name: str) -> str:
        values = self.fields.get(name, [])
        if len(values) != 1:
            raise ValueError(f"field {name!r} appears {len(values)} times")
        return values[0]

    def context(self) -> dict[str, str]:
        return _context(self.fields.get("context", []))


def _context(entries: list[str]) -> dict[str, str]:
    """Section 2.1: an expected context names each key once, never empty."""
    out: dict[str, str] = {}
    for entry in entries:
        key, value = _split_context(entry)
        if not key or key in out:
            raise ValueError(f"INVALID_CONTEXT: key {key!r} empty or given twice")
        out[key] = value
    return out


def _split_context(entry: str) -> tuple[str, str]:
    key, sep, value = entry.partition("=")
    if not sep:
        raise ValueError(f"context entry {entry!r} is not key=value")
    return key, value


def load_vector(path: Path) -> Vector:
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        raise ValueError(f"{path.name}: no empty line before the file bytes")
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").split("\n"):
        name, sep2, value = line.partition(": ")
        if not sep2:
            raise ValueError(f"{path.name}: bad field line {line!r}")
        fields.setdefault(name, []).append(value)
    return Vector(fields, body)


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def check_vector(path: Path) -> tuple[str, str]:
    """Replay one vector; return (PASS, FAIL or SKIP, message)."""
    ok, message = _check_vector(path)
    if ok is None:
        return "SKIP", message
    return ("PASS" if ok else "FAIL"), message


def _check_vector(path: Path) -> tuple[bool | None, str]:
    v = load_vector(path)
    expect = v.one("expect")
    if path.name.startswith("ok_") != (expect == "success"):
        return False, f"file name disagrees with 'expect: {expect}'"
    if "passphrase" in v.fields:
        reason = argon2id_unavailable()
        if reason:
            return None, f"passphrase vector not replayed: {reason}"
        unwrap = passphrase_key(v.one("passphrase").encode("utf-8"))
    elif "identity" in v.fields:
        reason = hpke_unavailable()
        if reason:
            return None, f"x25519-hpke vector not replayed: {reason}"
        unwrap = identity_key(bytes.fromhex(v.one("identity")))
    else:
        unwrap = raw_aes_key(bytes.fromhex(v.one("master_key")), v.one("key_name"))
    released = 0
    try:
        out = []
        for piece in _verified_chunks(v.body, unwrap, v.context()):
            out.append(piece)
            released += len(piece)
        plaintext = b"".join(out)
    except FormatError as e:
        if expect == "success":
            return False, f"MISMATCH expected success, got {e}"
        want = expect.removeprefix("error ")
        if e.code != want:
            return False, f"MISMATCH expected {want}, got {e}"
        want_released = int(v.one("released"))
        if released != want_released:
            return False, (
                f"MISMATCH {e.code} but released {released} bytes, expected {want_released}"
            )
        return True, f"{e.code} (released {released})"
    if expect != "success":
        return False, f"MISMATCH expected {expect}, but it decrypted ({len(plaintext)} bytes)"
    if plaintext != pattern(int(v.one("plaintext_len"))):
        return False, f"MISMATCH decrypted {len(plaintext)} bytes that differ from the pattern"
    resealed = _reseal_hpke_wraps(v)
    if resealed is not None:
        return False, resealed
    return True, f"success ({len(plaintext)} bytes)"


def _reseal_hpke_wraps(v: Vector) -> str | None:
    """Writer check: every `wrap: x25519-hpke PUBLIC IKME` line sealed again here
    gives the blob in the header (section 2.5). None when all agree."""
    header = parse_header(v.body)
    for i, line in enumerate(v.fields.get("wrap", [])):
        fields = line.split(" ")
        if fields[0] != "x25519-hpke":
            continue
        if hpke_unavailable():
            return None
        public_key, ikm_e = bytes.fromhex(fields[1]), bytes.fromhex(fields[2])
        blob = hpke_reseal(
            public_key, ikm_e, bytes.fromhex(v.one("data_key")), header.canonical_context
        )
        wk = header.wrapped_keys[i]
        if (wk.provider_id, wk.provider_info, wk.blob) != (X25519_HPKE, public_key, blob):
            return f"MISMATCH wrap {i}: x25519-hpke entry resealed here differs"
    return None


def replay_vectors(directory: Path) -> int:
    paths = sorted(directory.glob("*.vector"))
    if not paths:
        print(f"no *.vector files in {directory}", file=sys.stderr)
        return 1
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for path in paths:
        try:
            status, message = check_vector(path)
        except ValueError as e:
            status, message = "FAIL", f"bad vector file: {e}"
        counts[status] += 1
        print(f"{status} {path.name}: {message}")
    print(
        f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped, "
        f"{len(paths)} vectors"
    )
    return 1 if counts["FAIL"] else 0


def decrypt_file(args: argparse.Namespace) -> int:
    if args.identity:
        text = [
            line.strip()
            for line in Path(args.identity).read_text("ascii").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        if len(text) != 1:
            print(f"{args.identity}: expected one CDSECRET1... line", file=sys.stderr)
            return 2
        unwrap = identity_key(decode_key_text(text[0], "cdsecret"))
    elif args.passphrase_file:
        # Section 2.4: the bytes before the first LF, one CR before it dropped.
        line = Path(args.passphrase_file).read_bytes()[: 64 * 1024 + 1].split(b"\n", 1)[0]
        line = line.removesuffix(b"\r")
        if not line:
            print("the passphrase file's first line is empty", file=sys.stderr)
            return 2
        unwrap = passphrase_key(line)
    else:
        master_key = Path(args.key_file).read_bytes()
        if len(master_key) != 32:
            print(f"{args.key_file}: expected 32 raw bytes, got {len(master_key)}", file=sys.stderr)
            return 2
        unwrap = raw_aes_key(master_key, args.key_name)
    context = _context(args.context)
    try:
        plaintext = b"".join(_verified_chunks(Path(args.input).read_bytes(), unwrap, context))
    except FormatError as e:
        print(f"error {e}", file=sys.stderr)
        return 1
    Path(args.output).write_bytes(plaintext)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--vectors", metavar="DIR", help="replay every *.vector file in DIR")
    p.add_argument("--key-file", metavar="K", help="file holding the 32-byte raw-aes master key")
    p.add_argument("--key-name", default="master", help="the master key's name (default: master)")
    p.add_argument(
        "--passphrase-file", metavar="P", help="file whose first line is the passphrase"
    )
    p.add_argument(
        "--identity", metavar="F", help="file holding an X25519 private key (CDSECRET1...)"
    )
    p.add_argument(
        "--context", action="append", default=[], metavar="K=V",
        help="an expected context entry; repeat for each entry",
    )
    p.add_argument("input", nargs="?", metavar="IN")
    p.add_argument("output", nargs="?", metavar="OUT")
    args = p.parse_args(argv)
    if args.vectors:
        if args.key_file or args.passphrase_file or args.identity or args.input:
            p.error("--vectors takes no other arguments")
        return replay_vectors(Path(args.vectors))
    keys = [k for k in (args.key_file, args.passphrase_file, args.identity) if k]
    if len(keys) != 1 or not (args.input and args.output):
        p.error(
            "give --vectors DIR, or --key-file K IN OUT, or --passphrase-file P IN OUT, "
            "or --identity F IN OUT"
        )
    return decrypt_file(args)


if __name__ == "__main__":
    sys.exit(main())

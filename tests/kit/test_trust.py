"""Trust roots: thresholds, both crypto profiles, rotation chains, expiry."""

from __future__ import annotations

import datetime as dt

import pytest

from kit import dsse
from kit.crypto import Signer, generate
from kit.errors import KitFormatError, KitVerificationError
from kit.trust import build_root, load_root_envelope, verify_chain
from tests.kit.conftest import FAR, make_root

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def test_a_new_root_verifies_and_names_its_channels(key_a: Signer, key_b: Signer) -> None:
    root = verify_chain([make_root([key_a, key_b], 2, ("stable", "edge"))], NOW)
    assert sorted(root.channels) == ["edge", "stable"]
    assert root.channel("stable").threshold == 2
    with pytest.raises(KitVerificationError, match="no channel 'beta'"):
        root.channel("beta")


def test_fips_profile_keys_sign_and_verify(key_fips: Signer) -> None:
    root = verify_chain([make_root([key_fips, generate("fips")], 1)], NOW)
    assert {k.scheme for k in root.keys.values()} == {"ecdsa-sha2-nistp256"}
    env = dsse.sign("x/y", b"payload", [key_fips])
    assert dsse.check(env, root.keys, 1, "x/y")
    # RFC 6979: the same key and payload give the same signature (kits stay byte-identical)
    assert dsse.sign("x/y", b"payload", [key_fips]) == env


def test_mixed_profiles_in_one_root(key_a: Signer, key_fips: Signer) -> None:
    root = verify_chain([make_root([key_a, key_fips], 2)], NOW)
    env = dsse.sign("t/t", b"p", [key_a, key_fips])
    assert dsse.verify(env, root.keys, 2, "t/t").valid == {key_a.keyid, key_fips.keyid}


def test_root_without_its_own_threshold_is_refused(key_a: Signer, key_b: Signer) -> None:
    pubs = [key_a.public_key, key_b.public_key]
    env = build_root(version=1, expires=FAR, keys=pubs, root_threshold=2, channels={"stable": (pubs, 2)},
                     signers=[key_a])
    with pytest.raises(KitVerificationError, match="1 of 2") as err:
        verify_chain([load_root_envelope(env.to_bytes())], NOW)
    assert err.value.kind == "threshold-not-met"


def test_rotation_chain(key_a: Signer, key_b: Signer) -> None:
    key_c, key_d = generate(), generate()
    v1 = make_root([key_a, key_b], 2)
    v2 = make_root([key_c, key_d], 2, version=2, extra_signers=[key_a, key_b])
    newest = verify_chain([v2, v1], NOW)           # order of the files does not matter
    assert newest.version == 2 and set(newest.keys) == {key_c.keyid, key_d.keyid}


def test_rotation_needs_the_old_threshold(key_a: Signer, key_b: Signer) -> None:
    key_c, key_d = generate(), generate()
    v1 = make_root([key_a, key_b], 2)
    v2 = make_root([key_c, key_d], 2, version=2, extra_signers=[key_a])   # only one old key
    with pytest.raises(KitVerificationError, match="by the keys of version 1"):
        verify_chain([v1, v2], NOW)


def test_rotation_needs_the_new_keys_too(key_a: Signer, key_b: Signer) -> None:
    # Old keys cannot rotate to keys nobody holds.
    key_c = generate()
    v1 = make_root([key_a, key_b], 2)
    pubs = [key_c.public_key]
    env = build_root(version=2, expires=FAR, keys=pubs, root_threshold=1, channels={"stable": (pubs, 1)},
                     signers=[key_a, key_b])
    with pytest.raises(KitVerificationError, match="by its own keys"):
        verify_chain([v1, load_root_envelope(env.to_bytes())], NOW)


def test_gap_in_the_chain_is_refused(key_a: Signer, key_b: Signer) -> None:
    v1 = make_root([key_a, key_b], 2)
    v3 = make_root([key_a, key_b], 2, version=3)
    with pytest.raises(KitVerificationError, match="jumps from version 1 to 3"):
        verify_chain([v1, v3], NOW)


def test_expired_root_is_refused_unless_checked_at_an_earlier_time(key_a: Signer) -> None:
    root = make_root([key_a], 1, expires=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    with pytest.raises(KitVerificationError, match="expired at 2026-12-01T00:00:00Z") as err:
        verify_chain([root], NOW)
    assert err.value.kind == "expired-root"
    assert verify_chain([root], dt.datetime(2026, 11, 1, tzinfo=dt.UTC)).version == 1


def test_only_the_newest_root_must_be_unexpired(key_a: Signer) -> None:
    old = make_root([key_a], 1, expires=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    new = make_root([key_a], 1, version=2)
    assert verify_chain([old, new], NOW).version == 2


def test_malformed_roots(key_a: Signer) -> None:
    with pytest.raises(KitFormatError, match="not valid JSON|invalid JSON"):
        load_root_envelope(b"{not json")
    env = dsse.sign("application/vnd.stella.kit.manifest+json", b"{}", [key_a])
    with pytest.raises(KitFormatError, match="is not a trust root"):
        load_root_envelope(env.to_bytes())
    env = dsse.sign("application/vnd.stella.trust-root+json",
                    b'{"_type":"stella/trust-root","formatVersion":"1.0","version":1}', [key_a])
    with pytest.raises(KitFormatError, match="does not match schema trust-root"):
        load_root_envelope(env.to_bytes())
    env = dsse.sign("application/vnd.stella.trust-root+json",
                    b'{"_type":"stella/trust-root","formatVersion":"9.0"}', [key_a])
    with pytest.raises(KitFormatError, match="unknown trust root format version 9.0"):
        load_root_envelope(env.to_bytes())


def test_duplicate_json_keys_are_refused(key_a: Signer) -> None:
    good = make_root([key_a], 1).envelope.to_bytes()
    tricky = good[:-1] + b',"payload":"e30="}'
    with pytest.raises(KitFormatError, match="duplicate key 'payload'"):
        load_root_envelope(tricky)

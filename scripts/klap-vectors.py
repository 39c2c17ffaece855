#!/usr/bin/env python3
"""Regenerates host-tests/support/klap-vectors.json with python-kasa's own code.

Every value comes from python-kasa's kasa/transports/klaptransport.py (KlapTransport and
KlapTransportV2's hash helpers, KlapEncryptionSession), for fixed seeds, credentials, sequence
numbers and plaintexts; host-tests/klap.test.ts asserts the core (src/core/klap/) reproduces each
one byte for byte. Run it in an environment with python-kasa installed (it prints the version used):

    python3 scripts/klap-vectors.py > host-tests/support/klap-vectors.json
"""

import json
import struct
from importlib.metadata import version

from kasa.credentials import Credentials
from kasa.transports.klaptransport import KlapEncryptionSession, KlapTransport, KlapTransportV2

CREDENTIALS = [
    ("", ""),
    ("user@example.com", "correct horse battery staple"),
    ("kasa@tp-link.net", "kasaSetup"),
    ("test@tp-link.net", "test"),
    ("Jürgen@exämple.de", "pässwörd €"),
]

SEEDS = [
    # local_seed, remote_seed
    (bytes(range(16)), bytes(range(16, 32))),
    (bytes([0xFF] * 16), bytes([0x00] * 16)),
    (bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90"), bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")),
    (bytes.fromhex("5eed5eed5eed5eed5eed5eed5eed5eed"), bytes.fromhex("c0ffeec0ffeec0ffeec0ffeec0ffee00")),
]

PLAINTEXTS = [
    b"",
    b'{"system":{"get_sysinfo":{}}}',
    b"0123456789abcdef",  # one block: a whole block of padding follows
    b"0123456789abcde",  # one byte of padding
    b"0123456789abcdef0",
    b"0123456789abcdef0123456789abcdef",
    b'{"system":{"set_relay_state":{"state":1}}}',
    "{\"system\":{\"set_dev_alias\":{\"alias\":\"Küche ☕\"}}}".encode(),
    bytes(range(256)) * 2,
]


def creds(username, password):
    return Credentials(username=username, password=password)


def main():
    out = {
        "generator": "scripts/klap-vectors.py",
        "pythonKasa": version("python-kasa"),
        "authHashes": [],
        "handshakes": [],
        "sessions": [],
        "wrap": None,
    }
    for username, password in CREDENTIALS:
        c = creds(username, password)
        out["authHashes"].append({
            "username": username,
            "password": password,
            "v1": KlapTransport.generate_auth_hash(c).hex(),
            "v2": KlapTransportV2.generate_auth_hash(c).hex(),
        })

    auth = {
        1: KlapTransport.generate_auth_hash(creds(*CREDENTIALS[1])),
        2: KlapTransportV2.generate_auth_hash(creds(*CREDENTIALS[1])),
    }
    for local_seed, remote_seed in SEEDS:
        for v, transport in ((1, KlapTransport), (2, KlapTransportV2)):
            out["handshakes"].append({
                "version": v,
                "localSeed": local_seed.hex(),
                "remoteSeed": remote_seed.hex(),
                "authHash": auth[v].hex(),
                "handshake1": transport.handshake1_seed_auth_hash(local_seed, remote_seed, auth[v]).hex(),
                "handshake2": transport.handshake2_seed_auth_hash(local_seed, remote_seed, auth[v]).hex(),
            })

    for local_seed, remote_seed in SEEDS:
        for v in (1, 2):
            session = KlapEncryptionSession(local_seed, remote_seed, auth[v])
            entry = {
                "localSeed": local_seed.hex(),
                "remoteSeed": remote_seed.hex(),
                "authHash": auth[v].hex(),
                "key": session._key.hex(),
                "iv": session._iv.hex(),
                "seq": session._seq,
                "sig": session._sig.hex(),
                "messages": [],
            }
            for plaintext in PLAINTEXTS:
                body, seq = session.encrypt(plaintext)
                # python-kasa's own decrypt reads it back (its client decrypts the answer the same way)
                if plaintext != bytes(range(256)) * 2:  # its decrypt returns text: only for UTF-8
                    assert session.decrypt(body).encode() == plaintext
                entry["messages"].append({"seq": seq, "plaintext": plaintext.hex(), "body": body.hex()})
            out["sessions"].append(entry)

    # The int32 end: python-kasa packs seq as a signed 32-bit big-endian ">l" and does not wrap.
    local_seed, remote_seed = SEEDS[0]
    session = KlapEncryptionSession(local_seed, remote_seed, auth[1])
    session._seq = 0x7FFFFFFF - 1
    body, seq = session.encrypt(b"{}")
    wrap = {"localSeed": local_seed.hex(), "remoteSeed": remote_seed.hex(), "authHash": auth[1].hex(),
            "last": {"seq": seq, "plaintext": b"{}".hex(), "body": body.hex()}}
    try:
        session.encrypt(b"{}")
        wrap["beyond"] = "encrypted"
    except struct.error as e:
        wrap["beyond"] = "struct.error: " + str(e)
    session._seq = -0x80000000 - 1
    body, seq = session.encrypt(b"{}")
    wrap["lowest"] = {"seq": seq, "plaintext": b"{}".hex(), "body": body.hex()}
    out["wrap"] = wrap
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A second, independent implementation of kakusan protocol v1, written from docs/protocol.md.

It checks every golden vector in this directory: cards (checksum, fields, error labels), sealed
boxes (libsodium crypto_box_seal, with XSalsa20-Poly1305 written out below), and every envelope
case (the full verification pipeline, in the documented order, with the documented labels).
It needs only Python 3 and the `cryptography` package (for Ed25519 and X25519).

Run: python3 docs/vectors/check_vectors.py
"""

import base64
import hashlib
import json
import pathlib
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

HERE = pathlib.Path(__file__).parent
B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
NAME = re.compile(r"^[a-z0-9-]{2,32}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
KINDS = {"peer.hello", "peer.bye", "times.announce", "times.withdraw", "times.sync", "ping", "pong", "log",
         "member.forget", "member.forgotten"}


class Reject(Exception):
    """A verification or parse failure with its documented label."""

    def __init__(self, label):
        super().__init__(label)
        self.label = label


def b64d(text):
    """Strict unpadded base64url (protocol.md 2.1); None when invalid."""
    if not isinstance(text, str) or not B64URL.match(text) or len(text) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Non-zero unused bits would give a second spelling of the same bytes.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != text:
        return None
    return raw


def b64e(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def snowflake(text):
    return isinstance(text, str) and re.fullmatch(r"[1-9][0-9]{0,19}", text) is not None and int(text) < 2**64


# --- XSalsa20-Poly1305 and sealed boxes (protocol.md section 7) -----------------------------

M = 0xFFFFFFFF


def rotl(v, c):
    return ((v << c) & M) | (v >> (32 - c))


def salsa_rounds(x):
    def qr(a, b, c, d):
        x[b] ^= rotl((x[a] + x[d]) & M, 7)
        x[c] ^= rotl((x[b] + x[a]) & M, 9)
        x[d] ^= rotl((x[c] + x[b]) & M, 13)
        x[a] ^= rotl((x[d] + x[c]) & M, 18)

    for _ in range(10):
        qr(0, 4, 8, 12), qr(5, 9, 13, 1), qr(10, 14, 2, 6), qr(15, 3, 7, 11)
        qr(0, 1, 2, 3), qr(5, 6, 7, 4), qr(10, 11, 8, 9), qr(15, 12, 13, 14)
    return x


def words(raw):
    return [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]


def state(key, sixteen):
    k, n = words(key), words(sixteen)
    return [0x61707865, *k[:4], 0x3320646E, *n, 0x79622D32, *k[4:], 0x6B206574]


def hsalsa20(key, sixteen):
    x = salsa_rounds(state(key, sixteen))
    return b"".join(x[i].to_bytes(4, "little") for i in (0, 5, 10, 15, 6, 7, 8, 9))


def xsalsa20_stream(key, nonce, length):
    subkey = hsalsa20(key, nonce[:16])
    out = b""
    counter = 0
    while len(out) < length:
        s = state(subkey, nonce[16:24] + counter.to_bytes(8, "little"))
        x = salsa_rounds(list(s))
        out += b"".join(((a + b) & M).to_bytes(4, "little") for a, b in zip(x, s))
        counter += 1
    return out[:length]


def poly1305(key, message):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        acc = (acc + int.from_bytes(message[i : i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) % (1 << 128)).to_bytes(16, "little")


def seal_open(sealed, secret):
    """crypto_box_seal_open: epk || tag || ciphertext."""
    if sealed is None or len(sealed) < 48:
        return None
    epk, tag, ciphertext = sealed[:32], sealed[32:48], sealed[48:]
    sk = X25519PrivateKey.from_private_bytes(secret)
    try:
        shared = sk.exchange(X25519PublicKey.from_public_bytes(epk))
    except ValueError:
        return None
    pk = sk.public_key().public_bytes_raw()
    nonce = hashlib.blake2b(epk + pk, digest_size=24).digest()
    key = hsalsa20(shared, bytes(16))
    stream = xsalsa20_stream(key, nonce, 32 + len(ciphertext))
    if poly1305(stream[:32], ciphertext) != tag:
        return None
    return bytes(c ^ k for c, k in zip(ciphertext, stream[32:]))


# --- cards (protocol.md section 5) ----------------------------------------------------------


# Unicode White_Space: what a card is trimmed of, and what it must not contain inside.
WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"

# Curve25519 and edwards25519 (RFC 7748, RFC 8032).
P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P


def webhook_error(url, bases):
    """Why `url` is not a webhook URL under one of `bases`, as a vector label; None if it is one."""
    if len(url.encode()) > 512:
        return "too_long"
    for base in bases:
        base = base.rstrip("/")
        if url.startswith(base + "/"):
            path = re.match(r"/api/(?:v[0-9]{1,2}/)?webhooks/", url[len(base) :])
            if path is None:
                return "not_a_webhook_path"
            rest = url[len(base) + path.end() :]
            if "/" not in rest:
                return "bad_token"
            webhook_id, token = rest.split("/", 1)
            if not snowflake(webhook_id):
                return "bad_id"
            if re.fullmatch(r"[A-Za-z0-9_-]{1,128}", token) is None:
                return "bad_token"
            return None
    return "wrong_base"


def edwards_add(p1, p2):
    (x1, y1), (x2, y2) = p1, p2
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def ed25519_point(raw):
    """RFC 8032 5.1.3 point decoding, which refuses non-canonical encodings; None if invalid."""
    y = int.from_bytes(raw, "little") & (2**255 - 1)
    sign = raw[31] >> 7
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    elif v * x * x % P != u:
        return None
    if x == 0 and sign == 1:
        return None
    if x % 2 != sign:
        x = P - x
    return x, y


def valid_verify_key(raw):
    """A canonical Ed25519 point that is not of small order (8 times it is not the identity)."""
    point = ed25519_point(raw)
    if point is None:
        return False
    for _ in range(3):
        point = edwards_add(point, point)
    return point != (0, 1)


def parse_card(text, bases):
    text = text.strip(WHITESPACE)
    if len(text.encode()) > 1024:
        raise Reject("too_long")
    if not text.startswith("kakusan1."):
        raise Reject("wrong_prefix")
    if any(c in WHITESPACE for c in text):
        raise Reject("whitespace")
    fields = text[len("kakusan1.") :].split(".")
    if len(fields) != 6:
        raise Reject("field_count")
    name, guild, verify, sealing, hook, checksum = fields
    covered = text[: len(text) - len(checksum) - 1]
    if b64e(hashlib.sha256(covered.encode()).digest()[:6]) != checksum:
        raise Reject("checksum")
    if not NAME.match(name):
        raise Reject("name")
    if not snowflake(guild):
        raise Reject("guild_id")
    vk, sk, url = b64d(verify), b64d(sealing), b64d(hook)
    if vk is None or sk is None or url is None:
        raise Reject("base64")
    if len(vk) != 32 or not valid_verify_key(vk):
        raise Reject("verify_key")
    # Below p also means the top bit is clear: the one spelling of the coordinate.
    if len(sk) != 32 or sk == bytes(32) or int.from_bytes(sk, "little") >= P:
        raise Reject("sealing_key")
    try:
        url = url.decode("utf-8")
    except UnicodeDecodeError:
        raise Reject("webhook_not_text")
    detail = webhook_error(url, bases)
    if detail is not None:
        reject = Reject("webhook")
        reject.detail = detail
        raise reject
    return {"name": name, "guild_id": guild, "verify_key": verify, "sealing_key": sealing, "webhook_url": url}


# --- envelopes (protocol.md sections 6, 8 and 10) ------------------------------------------


def strict_object(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Reject("malformed")
    return dict(pairs)


def is_int(value, lo, hi):
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def exact_keys(obj, keys):
    if not isinstance(obj, dict) or set(obj) != set(keys):
        raise Reject("malformed")


def no_control(text, limit):
    return isinstance(text, str) and 1 <= len(text) <= limit and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def check_registration(reg):
    # `thread` is optional: absent for a times that is a channel of its own.
    exact_keys(reg, ["member", "name", "channel", "hook"] + (["thread"] if isinstance(reg, dict) and "thread" in reg else []))
    sealed = b64d(reg["hook"])
    if not (snowflake(reg["member"]) and snowflake(reg["channel"]) and no_control(reg["name"], 80)):
        raise Reject("malformed")
    if "thread" in reg and not snowflake(reg["thread"]):
        raise Reject("malformed")
    if sealed is None or not 48 <= len(sealed) <= 48 + 1024:
        raise Reject("malformed")


def check_body(kind, body):
    if kind == "peer.bye":
        exact_keys(body, [])
    elif kind == "peer.hello":
        exact_keys(body, ["card"])
    elif kind == "times.announce":
        check_registration(body)
    elif kind == "times.withdraw":
        exact_keys(body, ["member"])
        if not snowflake(body["member"]):
            raise Reject("malformed")
    elif kind == "times.sync":
        exact_keys(body, ["sync", "index", "count", "regs"])
        if not (HEX32.match(str(body["sync"])) and is_int(body["count"], 1, 2**32 - 1)):
            raise Reject("malformed")
        if not (is_int(body["index"], 0, body["count"] - 1) and isinstance(body["regs"], list)):
            raise Reject("malformed")
        for reg in body["regs"]:
            check_registration(reg)
    elif kind in ("ping", "pong"):
        exact_keys(body, ["nonce", "sent_ms"])
        if not (isinstance(body["nonce"], str) and HEX32.match(body["nonce"]) and is_int(body["sent_ms"], -(2**63), 2**63 - 1)):
            raise Reject("malformed")
    elif kind == "log":
        exact_keys(body, ["line"])
        if not no_control(body["line"], 1000):
            raise Reject("malformed")
    elif kind == "member.forget":
        exact_keys(body, ["member", "request"])
        if not (snowflake(body["member"]) and isinstance(body["request"], str) and HEX32.match(body["request"])):
            raise Reject("malformed")
    elif kind == "member.forgotten":
        exact_keys(body, ["member", "request", "copies"])
        if not (snowflake(body["member"]) and isinstance(body["request"], str) and HEX32.match(body["request"])):
            raise Reject("malformed")
        if not is_int(body["copies"], 0, 2**32 - 1):
            raise Reject("malformed")


def verify(wire, receiver, peers, sealing_secret, now, seen, bases):
    # 1. size
    if len(wire.encode()) > 2000:
        raise Reject("too_large")
    # 2. parse
    if "\n" not in wire:
        raise Reject("malformed")
    payload, signature = wire.split("\n", 1)
    signature = b64d(signature)
    if signature is None or len(signature) != 64:
        raise Reject("malformed")
    try:
        env = json.loads(payload, object_pairs_hook=strict_object)
    except ValueError:
        raise Reject("malformed")
    exact_keys(env, ["v", "id", "src", "dst", "kind", "ttl", "ts", "body"])
    if env["v"] != 1 or not is_int(env["v"], 1, 1):
        raise Reject("malformed")
    if not all(isinstance(env[k], str) for k in ("id", "src", "dst", "kind")):
        raise Reject("malformed")
    if not (NAME.match(env["src"]) and NAME.match(env["dst"]) and env["kind"] in KINDS and HEX32.match(env["id"])):
        raise Reject("malformed")
    if not (is_int(env["ttl"], 0, 255) and is_int(env["ts"], -(2**63), 2**63 - 1) and isinstance(env["body"], dict)):
        raise Reject("malformed")
    # 3. known sender (a hello from an unregistered sender brings its own key)
    if env["src"] == receiver:
        raise Reject("own_message")
    sender = "peer"
    key = peers.get(env["src"])
    if key is None:
        if env["kind"] != "peer.hello":
            raise Reject("unknown_src")
        body = env["body"]
        if set(body) != {"card"} or not isinstance(body["card"], str):
            raise Reject("bad_card")
        plain = seal_open(b64d(body["card"]), sealing_secret)
        try:
            card = parse_card(plain.decode("utf-8"), bases)
        except (AttributeError, UnicodeDecodeError, Reject):
            raise Reject("bad_card")
        if card["name"] != env["src"]:
            raise Reject("bad_card")
        key, sender = b64d(card["verify_key"]), "unregistered"
    # 4. signature over the exact payload bytes, then the body
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, payload.encode())
    except InvalidSignature:
        raise Reject("bad_signature")
    check_body(env["kind"], env["body"])
    # 5. dst, 6. time, 7. replay, 8. ttl
    if env["dst"] != receiver:
        raise Reject("wrong_dst")
    if abs(env["ts"] - now) > 300:
        raise Reject("stale")
    if env["id"] in seen:
        raise Reject("replayed")
    seen.add(env["id"])
    if env["ttl"] == 0:
        raise Reject("ttl_expired")
    return env, sender


def opened_parts(env, secret, bases):
    body, kind = env["body"], env["kind"]
    if kind == "times.announce":
        return {"hook": seal_open(b64d(body["hook"]), secret).decode()}
    if kind == "times.sync" and body["regs"]:
        return {"hooks": [seal_open(b64d(r["hook"]), secret).decode() for r in body["regs"]]}
    if kind == "peer.hello":
        card = seal_open(b64d(body["card"]), secret).decode()
        parse_card(card, bases)
        return {"card": card}
    return {}


def main():
    failures = 0
    keys = {s["name"]: s for s in json.loads((HERE / "keys.json").read_text())["servers"]}

    cards = json.loads((HERE / "cards.json").read_text())
    bases = cards["discord_bases"]
    for case in cards["valid"]:
        try:
            fields = parse_card(case["card"], bases)
        except Reject as reject:
            fields = reject.label
        if fields != case["fields"]:
            print("card", case["name"], "expected", case["fields"], "got", fields); failures += 1
    for case in cards["invalid"]:
        try:
            parse_card(case["card"], bases)
            got = ("ok", None)
        except Reject as reject:
            got = (reject.label, getattr(reject, "detail", None))
        if got != (case["error"], case.get("webhook_error")):
            print("card", case["name"], "expected", case["error"], case.get("webhook_error"), "got", got); failures += 1

    for case in json.loads((HERE / "sealed.json").read_text())["cases"]:
        if seal_open(b64d(case["sealed"]), b64d(case["recipient_secret"])) != case["plaintext"].encode():
            print("sealed case FAILED"); failures += 1

    vectors = json.loads((HERE / "envelopes.json").read_text())
    receiver = vectors["receiver"]
    peers = {name: b64d(keys[name]["verify_key"]) for name in vectors["receiver_peers"]}
    secret = b64d(keys[receiver]["sealing_secret"])
    for case in vectors["cases"]:
        expect = case["expect"]
        try:
            env, sender = verify(case["wire"], receiver, peers, secret, vectors["now"], set(case["seen_before"]), vectors["webhook_bases"])
            got = {
                "result": "ok", "sender": sender, "id": env["id"], "src": env["src"], "dst": env["dst"],
                "kind": env["kind"], "ttl": env["ttl"], "ts": env["ts"], "body": env["body"],
                "opened": opened_parts(env, secret, vectors["webhook_bases"]),
            }
        except Reject as reject:
            got = {"result": "rejected", "reason": reject.label}
        if got != expect:
            print("envelope", case["name"], "expected", expect, "got", got); failures += 1

    total = len(cards["valid"]) + len(cards["invalid"]) + len(vectors["cases"]) + 1
    print(f"{total - failures} of {total} vectors agree with this implementation")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

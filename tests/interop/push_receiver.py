"""A Web Push subscriber and a webhook receiver that SecureCam did not write.

Web Push: it makes browser-like subscriptions (a P-256 key pair and a 16-byte auth secret
per subscription, with `cryptography`), and for every push it receives it checks the VAPID
authorization (RFC 8292: an ES256 JWT for the endpoint's origin, verified with the `k` key)
and decrypts the body with `http_ece` (RFC 8188/8291, aes128gcm).

Webhooks: it verifies each delivery's Standard Webhooks signature with the `standardwebhooks`
package, once the test has told it the endpoint's secret.

It prints one JSON line when listening: {"url": ..., "subscriptions": [PushSubscription...]}.
  GET  /received          everything received so far, as JSON
  POST /control           {"path": "/push/0", "statuses": [410]} answers the next requests to
                          that path with these statuses (then 201 / 200)
                          {"path": "/hook/a", "secret": "whsec_..."} sets a hook's secret
                          {"path": ..., "delay_ms": 200} delays every answer to that path
"""

import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from standardwebhooks.webhooks import Webhook


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class State:
    def __init__(self, count: int):
        self.lock = threading.Lock()
        self.received = []
        self.statuses = {}
        self.secrets = {}
        self.delays = {}
        self.keys = []
        for _ in range(count):
            private = ec.generate_private_key(ec.SECP256R1())
            public = private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            self.keys.append((private, public, os.urandom(16)))


def check_vapid(header: str, endpoint_origin: str):
    """Returns (ok, why) for an `Authorization: vapid t=..., k=...` header."""
    if not header.lower().startswith("vapid "):
        return False, f"not a vapid authorization: {header!r}"
    params = {}
    for part in header[6:].split(","):
        name, _, value = part.strip().partition("=")
        params[name] = value
    token, key = params.get("t"), params.get("k")
    if not token or not key:
        return False, "t or k missing"
    head, claims, signature = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    raw = unb64url(signature)
    if len(raw) != 64:
        return False, "signature is not 64 bytes"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except Exception as error:  # noqa: BLE001
        return False, f"bad signature: {error}"
    header_json = json.loads(unb64url(head))
    claims_json = json.loads(unb64url(claims))
    if header_json.get("alg") != "ES256":
        return False, f"alg {header_json.get('alg')}"
    if claims_json.get("aud") != endpoint_origin:
        return False, f"aud {claims_json.get('aud')!r} is not {endpoint_origin!r}"
    if not (time.time() < claims_json.get("exp", 0) <= time.time() + 24 * 3600):
        return False, "exp is not within 24 hours"
    if not str(claims_json.get("sub", "")).startswith(("mailto:", "https:")):
        return False, f"sub {claims_json.get('sub')!r}"
    return True, "ok", key


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    state = State(count)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status: int, body: bytes = b"", content_type="application/json"):
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def next_status(self, default: int) -> int:
            with state.lock:
                queued = state.statuses.get(self.path)
                status = queued.pop(0) if queued else default
                delay = state.delays.get(self.path, 0)
            if delay:
                time.sleep(delay / 1000)
            return status

        def do_GET(self):
            if self.path == "/received":
                with state.lock:
                    body = json.dumps(state.received).encode()
                return self.answer(200, body)
            self.answer(404)

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if self.path == "/control":
                control = json.loads(body)
                with state.lock:
                    if "statuses" in control:
                        state.statuses[control["path"]] = list(control["statuses"])
                    if "secret" in control:
                        state.secrets[control["path"]] = control["secret"]
                    if "delay_ms" in control:
                        state.delays[control["path"]] = control["delay_ms"]
                return self.answer(204)
            if self.path.startswith("/push/"):
                return self.push(body)
            if self.path.startswith("/hook/"):
                return self.hook(body)
            self.answer(404)

        def push(self, body: bytes):
            index = int(self.path.rsplit("/", 1)[1])
            private, public, auth = state.keys[index]
            origin = f"http://{self.headers['host']}"
            record = {
                "kind": "push",
                "path": self.path,
                "ttl": self.headers.get("ttl"),
                "urgency": self.headers.get("urgency"),
                "topic": self.headers.get("topic"),
                "content_encoding": self.headers.get("content-encoding"),
            }
            vapid = check_vapid(self.headers.get("authorization", ""), origin)
            record["vapid_ok"], record["vapid_why"] = vapid[0], vapid[1]
            record["vapid_key"] = vapid[2] if len(vapid) > 2 else None
            try:
                plaintext = http_ece.decrypt(
                    body, private_key=private, auth_secret=auth, version="aes128gcm"
                )
                record["payload"] = json.loads(plaintext)
            except Exception as error:  # noqa: BLE001
                record["decrypt_error"] = repr(error)
            status = self.next_status(201)
            record["answered"] = status
            with state.lock:
                state.received.append(record)
            self.answer(status)

        def hook(self, body: bytes):
            record = {
                "kind": "webhook",
                "path": self.path,
                "webhook_id": self.headers.get("webhook-id"),
                "timestamp": self.headers.get("webhook-timestamp"),
            }
            with state.lock:
                secret = state.secrets.get(self.path)
            if secret is None:
                record["verified"] = False
                record["why"] = "no secret set for this path"
            else:
                try:
                    record["payload"] = Webhook(secret).verify(body, dict(self.headers))
                    record["verified"] = True
                except Exception as error:  # noqa: BLE001
                    record["verified"] = False
                    record["why"] = repr(error)
            status = self.next_status(200)
            record["answered"] = status
            with state.lock:
                state.received.append(record)
            self.answer(status)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subscriptions = [
        {"endpoint": f"{url}/push/{i}", "keys": {"p256dh": b64url(public), "auth": b64url(auth)}}
        for i, (_, public, auth) in enumerate(state.keys)
    ]
    print(json.dumps({"url": url, "subscriptions": subscriptions}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

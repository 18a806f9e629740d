#!/usr/bin/env python3
"""An independent RFC 8935 push receiver for the Shared Signals tests.

Verifies every SET with PyJWT (python3-jwt) against the broker's JWKS: typ secevent+jwt, signature, iss, aud, an iat
window, jti de-duplication. Answers 202, or 400 with an RFC 8935 error. Prints its port on the first line of stdout.
GET /events returns what it accepted; POST /control {"mode": "ok"|"503"} makes it fail or succeed.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

parser = argparse.ArgumentParser()
parser.add_argument("--jwks", required=True)
parser.add_argument("--issuer", required=True)
parser.add_argument("--audience", required=True)
parser.add_argument("--iat-window", type=int, default=300)
args = parser.parse_args()

jwks = jwt.PyJWKClient(args.jwks, cache_keys=True)
lock = threading.Lock()
state = {"mode": "ok", "events": [], "duplicates": 0, "rejected": []}
seen = set()


def refuse(handler, err, description):
    with lock:
        state["rejected"].append({"err": err, "description": description})
    handler.reply(400, {"err": err, "description": description})


class Receiver(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive (every reply has a Content-Length), as real receivers speak. With the stdlib default HTTP/1.0 the
    # server closes each connection after replying, and under load .NET occasionally saw the response end early (1 in 3 runs).
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass

    def reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            self.reply(200, {"events": state["events"], "duplicates": state["duplicates"], "rejected": state["rejected"]})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/control":
            with lock:
                state["mode"] = json.loads(body)["mode"]
            return self.reply(200, {})
        if state["mode"] == "503":
            return self.reply(503, {})
        if self.headers.get("Content-Type") != "application/secevent+jwt":
            return refuse(self, "invalid_request", "content type")
        token = body.decode("ascii", "replace")
        try:
            if jwt.get_unverified_header(token).get("typ") != "secevent+jwt":
                return refuse(self, "invalid_request", "typ")
            key = jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["ES256", "RS256", "PS256"], audience=args.audience,
                                issuer=args.issuer, options={"require": ["iss", "aud", "iat", "jti"], "verify_exp": False})
        except jwt.InvalidAudienceError as e:
            return refuse(self, "invalid_audience", str(e))
        except jwt.InvalidIssuerError as e:
            return refuse(self, "invalid_issuer", str(e))
        except jwt.InvalidSignatureError as e:
            return refuse(self, "invalid_key", str(e))
        except Exception as e:  # a malformed token, an unknown kid, a missing claim
            return refuse(self, "invalid_request", type(e).__name__ + ": " + str(e))
        if abs(time.time() - claims["iat"]) > args.iat_window:
            return refuse(self, "invalid_request", "iat outside the window")
        with lock:
            if claims["jti"] in seen:
                state["duplicates"] += 1
            else:
                seen.add(claims["jti"])
                state["events"].append({"jti": claims["jti"], "sub_id": claims.get("sub_id"), "events": claims["events"],
                                        "aud": claims["aud"], "iss": claims["iss"], "received_at": time.time()})
        self.reply(202)


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()

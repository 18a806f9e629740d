#!/usr/bin/env python3
"""An independent Standard Webhooks receiver check (spec: "Verifying signatures"), on the standard library alone.

Usage: webhook_verify.py SECRET_FILE BODY_FILE WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE
Exit 0 and print the event type when a v1 signature matches and the timestamp is within 5 minutes; exit 1 otherwise.
"""
import base64, hashlib, hmac, json, sys, time

TOLERANCE = 300

def main(secret_file, body_file, msg_id, timestamp, signatures):
    secret = open(secret_file).read().strip()
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    body = open(body_file, "rb").read()
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        print("timestamp outside the replay window", file=sys.stderr)
        return 1
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for sig in signatures.split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            print(json.loads(body)["type"])
            return 0
    print("no matching signature", file=sys.stderr)
    return 1

if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))

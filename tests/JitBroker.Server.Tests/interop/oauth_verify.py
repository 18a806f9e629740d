"""Verifies JitBroker access tokens with PyJWT (Debian's python3-jwt), a relying party that shares no code with the broker.

Usage: oauth_verify.py < {"issuer": ..., "audience": ..., "tokens": {"name": "<jwt>", ...}}
Fetches the RFC 8414 metadata at <issuer>/.well-known/oauth-authorization-server, follows its jwks_uri with
jwt.PyJWKClient, and verifies each token's signature, iss (the metadata's issuer), aud and exp. Prints one JSON object:
{"metadata_issuer": ..., "jwks_uri": ..., "tokens": {"name": {"valid": true, "claims": {...}} or {"valid": false, "error": "<PyJWT error>"}}}
run by tests/JitBroker.Server.Tests/OAuthPythonVerifyTests.cs.
"""
import json
import sys
import urllib.request

import jwt

ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]


def main():
    request = json.load(sys.stdin)
    issuer = request["issuer"]
    with urllib.request.urlopen(issuer + "/.well-known/oauth-authorization-server", timeout=10) as response:
        metadata = json.load(response)
    # RFC 8414 section 3.3: the issuer in the metadata must be identical to the one it was fetched for.
    if metadata["issuer"] != issuer:
        raise SystemExit(f"metadata issuer {metadata['issuer']!r} is not {issuer!r}")

    keys = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=True)
    results = {}
    for name, token in request["tokens"].items():
        try:
            key = keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=request["audience"], issuer=metadata["issuer"],
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_signature": True},
            )
            results[name] = {"valid": True, "claims": claims, "alg": jwt.get_unverified_header(token)["alg"]}
        except jwt.PyJWTError as e:
            results[name] = {"valid": False, "error": type(e).__name__}
    print(json.dumps({"metadata_issuer": metadata["issuer"], "jwks_uri": metadata["jwks_uri"], "tokens": results}))


if __name__ == "__main__":
    main()

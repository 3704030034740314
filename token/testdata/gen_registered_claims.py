#!/usr/bin/env python3
"""Writes jose-registered-claims.json: how python-jose judges the registered
claims (aud, sub, jti, at_hash, iss) when called as Brevia calls it,
jwt.decode(token, secret, algorithms=["HS256"]), with no audience, issuer,
subject or access token.

Every payload is written here as raw JSON text, so that duplicate names and
escaped names can be tested too, then signed with python-jose and judged by
it. Each token is otherwise valid (user "gustavo", exp in 2100), so the
verdict is about the claim under test only.

Run from this directory with a Python that has python-jose:
    python3 gen_registered_claims.py > jose-registered-claims.json
(Debian: apt-get install python3-jose, then /usr/bin/python3.)
"""

import json
from importlib.metadata import version

from jose import jws, jwt
from jose.exceptions import JWTError

SECRET = "registered-claims-7d3f9a1c5e2b8d4f6a0c"
BASE = '"user":"gustavo","exp":4102444800'

# (name, the claims after BASE, as raw JSON text)
CASES = [
    # aud: refused whatever its value, as no audience is given to match it.
    ("aud_string", '"aud":"tokengate"'),
    ("aud_empty_string", '"aud":""'),
    ("aud_list", '"aud":["tokengate"]'),
    ("aud_list_of_two", '"aud":["a","b"]'),
    ("aud_empty_list", '"aud":[]'),
    ("aud_null", '"aud":null'),
    ("aud_number", '"aud":1'),
    ("aud_true", '"aud":true'),
    ("aud_false", '"aud":false'),
    ("aud_object", '"aud":{}'),
    ("aud_list_with_null", '"aud":[null]'),
    ("aud_list_with_number", '"aud":[1]'),
    ("aud_escaped_name", '"\\u0061ud":"x"'),
    ("aud_twice", '"aud":"x","aud":null'),
    ("aud_first_of_others", '"aud":"x","sub":1,"jti":2,"at_hash":"h"'),
    # Names are case-sensitive and exact.
    ("aud_capitalised_name", '"Aud":"x","AUD":"x"'),
    ("audience_name", '"audience":"x","aud ":"x"'),

    # sub: any string, else refused.
    ("sub_string", '"sub":"alice"'),
    ("sub_empty_string", '"sub":""'),
    ("sub_lone_surrogate", '"sub":"\\ud800"'),
    ("sub_number", '"sub":1'),
    ("sub_float", '"sub":1.5'),
    ("sub_null", '"sub":null'),
    ("sub_true", '"sub":true'),
    ("sub_list", '"sub":["alice"]'),
    ("sub_object", '"sub":{}'),
    ("sub_escaped_name", '"\\u0073ub":1'),
    ("sub_twice_last_string", '"sub":1,"sub":"alice"'),
    ("sub_twice_last_number", '"sub":"alice","sub":1'),
    ("sub_before_jti", '"sub":1,"jti":2'),
    ("sub_capitalised_name", '"Sub":1,"SUB":null'),

    # jti: any string, else refused.
    ("jti_string", '"jti":"4f1e"'),
    ("jti_empty_string", '"jti":""'),
    ("jti_number", '"jti":42'),
    ("jti_null", '"jti":null'),
    ("jti_false", '"jti":false'),
    ("jti_list", '"jti":["4f1e"]'),
    ("jti_object", '"jti":{"id":"4f1e"}'),
    ("jti_twice_last_string", '"jti":null,"jti":"4f1e"'),
    ("jti_twice_last_null", '"jti":"4f1e","jti":null'),
    ("jti_before_at_hash", '"jti":1,"at_hash":"h"'),

    # at_hash: refused whatever its value, as no access token is given.
    ("at_hash_string", '"at_hash":"mVe6kEa0Q1nGWK9D9jbKHQ"'),
    ("at_hash_empty_string", '"at_hash":""'),
    ("at_hash_null", '"at_hash":null'),
    ("at_hash_number", '"at_hash":0'),
    ("at_hash_escaped_name", '"at\\u005fhash":"x"'),
    ("at_hash_like_names", '"AT_HASH":"x","athash":"x","c_hash":"x"'),

    # iss: anything, as no issuer is given.
    ("iss_string", '"iss":"brevia"'),
    ("iss_number", '"iss":1'),
    ("iss_null", '"iss":null'),
    ("iss_list", '"iss":["a",1]'),
    ("iss_object", '"iss":{}'),

    ("all_accepted_together", '"iss":"brevia","sub":"alice","jti":"4f1e","azp":1'),
]


def main():
    vectors = []
    for name, extra in CASES:
        payload = "{" + BASE + "," + extra + "}"
        json.loads(payload)  # the test's own JSON must be valid
        tok = jws.sign(payload.encode("ascii"), SECRET, algorithm="HS256")
        try:
            claims = jwt.decode(tok, SECRET, algorithms=["HS256"])
        except JWTError as e:
            vectors.append({"name": name, "payload": payload, "token": tok, "valid": False, "error": str(e)})
            continue
        vectors.append({"name": name, "payload": payload, "token": tok, "valid": True, "user": claims["user"]})
    out = {
        "made_with": "python-jose " + version("python-jose"),
        "decode": 'jwt.decode(token, secret, algorithms=["HS256"])',
        "secret": SECRET,
        "vectors": vectors,
    }
    print(json.dumps(out, indent=1, ensure_ascii=True))


if __name__ == "__main__":
    main()

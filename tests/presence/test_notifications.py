"""The pure notification checks: Graph's encryption, signatures and validation tokens."""

import base64
import hashlib
import hmac
import json
import secrets
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from presence.webhook.notifications import (
    KeysUnavailable,
    NotificationRejected,
    Reason,
    SigningKeys,
    decrypt_content,
    parse_body,
    presence_from_resource,
    validation_tokens_check,
)
from tests.presence.support_webhook import (
    CLIENT_ID,
    TENANT_ID,
    TokenSigner,
    encrypt_like_graph,
    flip_byte,
    graph_oaep,
    presence_resource,
)

USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"
KEYS_URL = "https://login.example/tenant/discovery/v2.0/keys"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def encrypted(private_key):
    return encrypt_like_graph(
        private_key.public_key(), "cert-1", presence_resource(USER, "Busy", "InACall", 7)
    )


def reason_of(call) -> Reason:
    with pytest.raises(NotificationRejected) as caught:
        call()
    return caught.value.reason


# --- decrypting (docs/graph.md: RSA-OAEP SHA-1, HMAC before decrypting, AES-CBC IV = key[:16]) ---


def test_it_decrypts_a_rich_notification_like_graph_builds_it(private_key, encrypted):
    resource = decrypt_content(encrypted, private_key)
    assert resource["availability"] == "Busy"
    assert resource["activity"] == "InACall"
    assert resource["sequenceNumber"] == "00000000000000000007"


def test_a_flipped_byte_of_data_fails_the_signature(private_key, encrypted):
    encrypted["data"] = flip_byte(encrypted["data"], 5)
    assert reason_of(lambda: decrypt_content(encrypted, private_key)) == Reason.BAD_SIGNATURE


def test_a_flipped_byte_of_the_signature_fails_it(private_key, encrypted):
    encrypted["dataSignature"] = flip_byte(encrypted["dataSignature"])
    assert reason_of(lambda: decrypt_content(encrypted, private_key)) == Reason.BAD_SIGNATURE


def test_a_data_key_for_another_key_pair_is_undecryptable(encrypted):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert reason_of(lambda: decrypt_content(encrypted, stranger)) == Reason.UNDECRYPTABLE


def test_a_corrupted_data_key_is_undecryptable(private_key, encrypted):
    encrypted["dataKey"] = flip_byte(encrypted["dataKey"], 10)
    assert reason_of(lambda: decrypt_content(encrypted, private_key)) == Reason.UNDECRYPTABLE


def test_the_hmac_is_checked_before_anything_is_decrypted(private_key, encrypted):
    # Data that could never decrypt (not whole blocks) with a wrong signature: the
    # signature is what refuses it, so unauthenticated bytes never reach AES.
    encrypted["data"] = base64.b64encode(b"\x00" * 17).decode()
    assert reason_of(lambda: decrypt_content(encrypted, private_key)) == Reason.BAD_SIGNATURE


def test_signed_but_broken_ciphertext_is_undecryptable(private_key):
    key = secrets.token_bytes(32)
    data = secrets.token_bytes(32)  # random blocks: the padding check fails
    data_key = private_key.public_key().encrypt(key, graph_oaep())
    encrypted = {
        "data": base64.b64encode(data).decode(),
        "dataKey": base64.b64encode(data_key).decode(),
        "dataSignature": base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode(),
    }
    # Random plaintext may happen to end in valid padding; then it is not JSON.
    assert reason_of(lambda: decrypt_content(encrypted, private_key)) in (
        Reason.UNDECRYPTABLE,
        Reason.MALFORMED,
    )


def test_a_decrypted_payload_that_is_not_json_is_malformed(private_key):
    encrypted = encrypt_like_graph(private_key.public_key(), "cert-1", b"not json at all")
    assert reason_of(lambda: decrypt_content(encrypted, private_key)) == Reason.MALFORMED


@pytest.mark.parametrize("field", ["data", "dataKey", "dataSignature"])
def test_missing_or_non_base64_fields_are_malformed(private_key, encrypted, field):
    broken = dict(encrypted, **{field: "***"})
    assert reason_of(lambda: decrypt_content(broken, private_key)) == Reason.MALFORMED
    del encrypted[field]
    assert reason_of(lambda: decrypt_content(encrypted, private_key)) == Reason.MALFORMED


def test_encrypted_content_must_be_an_object(private_key):
    assert reason_of(lambda: decrypt_content("text", private_key)) == Reason.MALFORMED


# --- reading the presence -------------------------------------------------------------


def test_the_presence_is_read_with_its_sequence_number():
    change = presence_from_resource(presence_resource(USER, "Away", "Away", 12), USER)
    assert (change.user_id, change.availability, change.activity) == (USER, "Away", "Away")
    assert change.sequence == "00000000000000000012"


def test_a_presence_for_another_user_than_resource_data_says_is_malformed():
    other = "11111111-2222-4333-8444-555555555555"
    resource = presence_resource(other, "Away", "Away", 1)
    assert reason_of(lambda: presence_from_resource(resource, USER)) == Reason.MALFORMED


@pytest.mark.parametrize(
    "change",
    [
        {"availability": None},
        {"activity": ""},
        {"availability": "Busy; DROP TABLE"},
        {"availability": "X" * 40},
        {"sequenceNumber": 12},
        {"sequenceNumber": "12a"},
        {"id": "not-a-guid"},
    ],
)
def test_missing_or_implausible_values_are_malformed(change):
    resource = {**presence_resource(USER, "Busy", "InACall", 1), **change}
    assert reason_of(lambda: presence_from_resource(resource, None)) == Reason.MALFORMED


def test_a_missing_sequence_number_is_allowed():
    resource = presence_resource(USER, "Busy", "InACall", 1)
    del resource["sequenceNumber"]
    assert presence_from_resource(resource, USER).sequence is None


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'{"value": {}}', b'{"value": [], "validationTokens": "x"}', b"\xff"]
)
def test_a_body_without_a_value_list_is_bad_json(raw):
    assert reason_of(lambda: parse_body(raw)) == Reason.BAD_JSON


def test_a_body_is_split_into_items_and_tokens():
    assert parse_body(b'{"value": [{"a": 1}], "validationTokens": ["t"]}') == ([{"a": 1}], ["t"])
    assert parse_body(b'{"value": []}') == ([], [])


@pytest.mark.parametrize("raw", [b"[" * 20_000, b'{"value": ' + b"[" * 20_000, b'{"a":' * 20_000])
def test_nesting_deeper_than_the_parser_goes_is_bad_json(raw):
    assert reason_of(lambda: parse_body(raw)) == Reason.BAD_JSON


def test_a_body_with_more_items_than_allowed_is_too_many():
    assert parse_body(b'{"value": [1, 2, 3]}', max_items=3) == ([1, 2, 3], [])
    assert reason_of(lambda: parse_body(b'{"value": [1, 2, 3]}', max_items=2)) == (
        Reason.TOO_MANY_ITEMS
    )


# --- validation tokens -----------------------------------------------------------------


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner()


@pytest.fixture
def keys(signer) -> SigningKeys:
    def fetch(url):
        signer.fetches.append(url)
        return signer.jwks()

    return SigningKeys(fetch)


def check(tokens, keys, *, client_id=CLIENT_ID, tenant_id=TENANT_ID):
    validation_tokens_check(
        tokens, keys=keys, keys_url=KEYS_URL, client_id=client_id, tenant_id=tenant_id
    )


def test_genuine_validation_tokens_pass(signer, keys):
    check([signer.token(), signer.token()], keys)


def test_a_token_for_a_tenant_named_by_domain_is_checked_without_the_tenant_match(signer, keys):
    check([signer.token()], keys, tenant_id="contoso.onmicrosoft.com")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "99999999-9999-4999-8999-999999999999"},  # another app
        {"exp": int(time.time()) - 3600},  # expired (beyond the 5 minute leeway)
        {"appid": "00000000-0000-0000-0000-000000000001", "azp": None},  # not Graph's publisher
        {"iss": "https://evil.example/"},
        {"tid": "22222222-3333-4444-8555-666666666666", "iss": None},
        {"tid": None},
    ],
)
def test_tokens_with_wrong_claims_are_refused(signer, keys, claims):
    if claims.get("iss", "") is None:  # a consistent issuer for another tenant
        claims = {**claims, "iss": f"https://sts.windows.net/{claims['tid']}/"}
    token = signer.token(**claims)
    assert reason_of(lambda: check([signer.token(), token], keys)) == Reason.BAD_VALIDATION_TOKEN


def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(signer, keys):
    forger = TokenSigner(kid=signer.kid)
    assert reason_of(lambda: check([forger.token()], keys)) == Reason.BAD_VALIDATION_TOKEN


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", 42, None, "x" * 20000])
def test_tokens_that_are_not_jwts_are_refused(keys, token):
    assert reason_of(lambda: check([token], keys)) == Reason.BAD_VALIDATION_TOKEN


def test_an_hs256_token_is_refused(keys):
    import jwt

    token = jwt.encode({"aud": CLIENT_ID}, "secret" * 8, algorithm="HS256", headers={"kid": "k"})
    assert reason_of(lambda: check([token], keys)) == Reason.BAD_VALIDATION_TOKEN


def test_no_tokens_at_all_is_refused(keys):
    assert reason_of(lambda: check([], keys)) == Reason.BAD_VALIDATION_TOKEN


def test_signing_keys_are_fetched_once_and_cached(signer, keys):
    for _ in range(3):
        check([signer.token()], keys)
    assert signer.fetches == [KEYS_URL]


def test_an_unknown_kid_refetches_only_after_a_pause(signer):
    now = [1000.0]
    fetched = []

    def fetch(url):
        fetched.append(url)
        return signer.jwks()

    keys = SigningKeys(fetch, refetch_after=300, clock=lambda: now[0])
    stranger = TokenSigner()
    check([signer.token()], keys)
    for _ in range(5):  # forged tokens do not hammer the identity platform
        with pytest.raises(NotificationRejected):
            check([stranger.token()], keys)
    assert len(fetched) == 1
    now[0] += 301
    with pytest.raises(NotificationRejected):
        check([stranger.token()], keys)
    assert len(fetched) == 2


def test_rolled_over_keys_are_found_by_refetching(signer):
    now = [0.0]
    current = [signer]

    keys = SigningKeys(lambda url: current[0].jwks(), refetch_after=300, clock=lambda: now[0])
    check([signer.token()], keys)
    rolled = TokenSigner()
    current[0] = rolled
    now[0] += 400
    check([rolled.token()], keys)


def test_unreachable_keys_raise_keys_unavailable(signer):
    def fetch(url):
        raise KeysUnavailable("down")

    with pytest.raises(KeysUnavailable):
        check([signer.token()], SigningKeys(fetch))


def test_a_key_set_without_rsa_keys_is_unavailable(signer):
    keys = SigningKeys(lambda url: {"keys": [{"kty": "EC", "kid": "x"}]})
    with pytest.raises(KeysUnavailable):
        check([signer.token()], keys)


def test_json_round_trip_of_jwks_is_what_the_platform_serves(signer):
    document = json.loads(json.dumps(signer.jwks()))
    assert document["keys"][0]["kty"] == "RSA"

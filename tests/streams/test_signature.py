"""AudioHook request signatures (RFC 9421, HMAC-SHA256), against signatures computed here
from the RFC's rules, and against the example in Genesys' protocol documentation."""

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.protocols.signature import verify_request

SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="
API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
PATH = "/api/v1/voicebiometrics/ws"
COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)
NOW = 1_700_000_000


def base_headers() -> dict[str, str]:
    return {
        "Host": "audiohook.example.com",
        "Audiohook-Organization-Id": "d7934305-0972-4844-938e-9060eef73d05",
        "Audiohook-Correlation-Id": "e160e428-53e2-487c-977d-96989bf5c99d",
        "Audiohook-Session-Id": "30b0e395-84d3-4570-ac13-9a62d8f514c0",
        "X-API-KEY": API_KEY,
    }


def signed(
    headers: dict[str, str],
    *,
    secret: str = SECRET,
    created: int = NOW,
    keyid: str = API_KEY,
    components: tuple[str, ...] = COMPONENTS,
    path: str = PATH,
) -> dict[str, str]:
    """Signs as RFC 9421 section 3.1 says: one line per component, then @signature-params."""
    inner = "(" + " ".join(f'"{c}"' for c in components) + ")"
    params = f'{inner};keyid="{keyid}";nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";alg="hmac-sha256"'
    params += f";created={created};expires={created + 30}"
    values = {
        "@request-target": path,
        "@authority": headers["Host"],
        **{name.lower(): value for name, value in headers.items()},
    }
    lines = [f'"{c}": {values[c]}' for c in components] + [f'"@signature-params": {params}']
    digest = hmac.new(base64.b64decode(secret), "\n".join(lines).encode(), hashlib.sha256)
    signature = base64.b64encode(digest.digest()).decode()
    return {**headers, "Signature-Input": f"sig1={params}", "Signature": f"sig1=:{signature}:"}


def test_a_signature_made_by_the_rfc_rules_verifies():
    verdict = verify_request("GET", PATH, signed(base_headers()), SECRET, NOW + 2)
    assert verdict.ok and verdict.reason == "verified"


def test_the_example_in_genesys_documentation_verifies():
    headers = {
        **base_headers(),
        "Signature": "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:",
        "Signature-Input": 'sig1=("@request-target" "@authority" "audiohook-organization-id" '
        '"audiohook-session-id" "audiohook-correlation-id" "x-api-key");'
        'keyid="SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";'
        'alg="hmac-sha256";created=1641013200;expires=3282026430',
    }
    assert verify_request("GET", PATH, headers, SECRET, 1641013205).ok
    assert not verify_request("GET", PATH, headers, SECRET, 1641013300).ok  # too old


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: {**h, "Audiohook-Session-Id": "another"}, "does not match"),
        (lambda h: {**h, "Host": "evil.example.com"}, "does not match"),
        (lambda h: {**h, "X-API-KEY": "other-key"}, "keyid"),
        (lambda h: {k: v for k, v in h.items() if k != "Signature"}, "labelled"),
        (lambda h: {k: v for k, v in h.items() if not k.startswith("Signature")}, "not signed"),
        (lambda h: {**h, "Signature-Input": "sig1=garbage"}, "structured"),
    ],
)
def test_tampered_requests_fail_with_a_reason(change, reason):
    verdict = verify_request("GET", PATH, change(signed(base_headers())), SECRET, NOW)
    assert not verdict.ok and reason in verdict.reason


def test_wrong_secret_path_age_and_coverage_fail():
    headers = signed(base_headers())
    other_secret = base64.b64encode(b"another secret").decode()
    assert "does not match" in verify_request("GET", PATH, headers, other_secret, NOW).reason
    assert not verify_request("GET", "/v1/audiohook", headers, SECRET, NOW).ok
    assert "too old" in verify_request("GET", PATH, headers, SECRET, NOW + 60).reason
    assert "future" in verify_request("GET", PATH, headers, SECRET, NOW - 60).reason
    partial = signed(base_headers(), components=COMPONENTS[:-1])
    assert "does not cover x-api-key" in verify_request("GET", PATH, partial, SECRET, NOW).reason
    assert "not base64" in verify_request("GET", PATH, headers, "***", NOW).reason


@settings(max_examples=200, deadline=None)
@given(signature_input=st.text(max_size=200), signature=st.text(max_size=100))
def test_any_header_text_gives_a_verdict(signature_input, signature):
    headers = {**base_headers(), "Signature-Input": signature_input, "Signature": signature}
    assert not verify_request("GET", PATH, headers, SECRET, NOW).ok

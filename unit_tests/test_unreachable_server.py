"""A server that cannot be reached (connection refused, DNS failure, TLS error) ends as a config_error that
names the server and what to check, in check and in read, for every stream; resets and timeouts stay
transient. No real sleeping (`sleeps`), no network: the refused connection is a real one to a closed port
on 127.0.0.1, the DNS and TLS failures are built as requests and urllib3 build them."""

import socket
import ssl

import pytest
import requests
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import MaxRetryError, NameResolutionError, ProtocolError
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError

from .conftest import API_KEY, BASE, SANDBOX, all_output_lines, conversation, make_config, run_read

WHAT_TO_CHECK = "check base_url and environment in the config"


def _refused() -> requests.exceptions.ConnectionError:
    """The exception requests really raises for a closed port (made at import, before requests-mock)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        requests.get(f"http://127.0.0.1:{port}/v2/conversations", timeout=5)
    except requests.exceptions.ConnectionError as error:
        return error
    raise AssertionError("the closed port answered")


REFUSED = _refused()


def refused() -> requests.exceptions.ConnectionError:
    return REFUSED


def dns_failure(host: str = "api.partoo.co") -> requests.exceptions.ConnectionError:
    reason = NameResolutionError(host, HTTPSConnection(host, 443), socket.gaierror(-2, "Name or service not known"))
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/v2/conversations", reason))


def tls_failure() -> requests.exceptions.SSLError:
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    cause.verify_message = "self-signed certificate"
    return requests.exceptions.SSLError(MaxRetryError(None, "/v2/conversations", Urllib3SSLError(cause)))


def tls_handshake_failure() -> requests.exceptions.SSLError:
    cause = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    return requests.exceptions.SSLError(MaxRetryError(None, "/v2/conversations", Urllib3SSLError(cause)))


def proxy_failure() -> requests.exceptions.ProxyError:
    reason = Urllib3ProxyError("Unable to connect to proxy", ConnectionRefusedError(111, "Connection refused"))
    return requests.exceptions.ProxyError(MaxRetryError(None, "/v2/conversations", reason))


def connection_reset() -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))


@pytest.mark.parametrize("failure, because", [
    (refused, "connection refused"),
    (dns_failure, "its host name could not be resolved"),
    (tls_failure, "its TLS certificate could not be verified: self-signed certificate"),
    (tls_handshake_failure, "the TLS handshake failed"),
    (proxy_failure, "the proxy could not be used"),
], ids=["refused", "dns", "tls", "tls-handshake", "proxy"])
def test_read_retries_then_ends_as_a_config_error_naming_the_server(requests_mock, sleeps, failure, because):
    requests_mock.get(f"{BASE}/conversations", exc=failure())
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert requests_mock.call_count == 7  # still retried: the first try and 6 retries
    assert len([s for s in sleeps if s > 1]) >= 5  # with backoff between tries
    errors = [e.trace.error for e in output.errors]
    assert {e.failure_type.value for e in errors} == {"config_error"}
    message = errors[0].message
    assert message.startswith(f"Could not connect to the Partoo server https://api.partoo.co ({because}; tried 7 times)")
    assert WHAT_TO_CHECK in message and "proxy" in message
    assert "Exhausted available request attempts" not in message
    assert API_KEY not in "\n".join(all_output_lines(output))


def test_the_messages_stream_names_the_server_too(requests_mock, sleeps):
    requests_mock.get(f"{SANDBOX}/conversations", json={"conversations": [conversation(1)], "next_cursor": None})
    requests_mock.get(f"{SANDBOX}/messages", exc=dns_failure("api.sandbox.partoo.co"))
    output = run_read(make_config(environment="sandbox"), "messages", expecting_exception=True)
    errors = [e.trace.error for e in output.errors]
    assert {e.failure_type.value for e in errors} == {"config_error"}
    assert errors[0].message.startswith("Could not connect to the Partoo server https://api.sandbox.partoo.co "
                                        "(its host name could not be resolved; tried 7 times)")


@pytest.mark.parametrize("failure", [connection_reset, lambda: requests.exceptions.ConnectTimeout("timed out")],
                         ids=["reset", "connect-timeout"])
def test_resets_and_timeouts_stay_transient(requests_mock, sleeps, failure):
    requests_mock.get(f"{BASE}/conversations", exc=failure())
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert requests_mock.call_count == 7
    # the stream's own error (airbyte-cdk's closing "During the sync, ..." is always a config_error)
    errors = [e.trace.error for e in output.errors if e.trace.error.stream_descriptor]
    assert errors and all(e.failure_type.value == "system_error" for e in errors)
    assert not any("Could not connect" in e.trace.error.message for e in output.errors)


def test_a_server_that_comes_back_is_read_normally(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/conversations", [
        {"exc": refused()}, {"exc": refused()}, {"json": {"conversations": [conversation(1)], "next_cursor": None}}])
    output = run_read(make_config(), "conversations")
    assert [m.record.data["id"] for m in output.records] == [1]
    assert not output.errors


@pytest.mark.parametrize("failure", [refused, dns_failure, tls_failure], ids=["refused", "dns", "tls"])
def test_check_says_so_at_once(cli, requests_mock, sleeps, failure):
    requests_mock.get("https://proxy.example.com/partoo/v2/conversations", exc=failure())
    result = cli("check", make_config(base_url="https://proxy.example.com/partoo/v2"))
    status = result.connection_status
    assert status["status"] == "FAILED"
    assert "Could not connect to the Partoo server https://proxy.example.com (" in status["message"]
    assert "tried once" in status["message"] and WHAT_TO_CHECK in status["message"]
    assert requests_mock.call_count == 1  # a person is waiting: no backoff in a check
    assert API_KEY not in result.stdout

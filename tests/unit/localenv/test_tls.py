"""localenv/tls.py: the local CA and server certificate pass a strict verifier (OpenSSL's X509_STRICT, which
Python 3.13's ssl.create_default_context turns on), for every loopback name the emulator and the data stores are
reached by."""

from __future__ import annotations

import ssl

import pytest

from localenv.tls import LOOPBACK_IPS, LOOPBACK_NAMES, make_tls_files


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, name: str) -> None:
    """One TLS handshake in memory between the two contexts, the client asking for `name`."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = server.wrap_bio(to_server, to_client, server_side=True)
    client_side = client.wrap_bio(to_client, to_server, server_hostname=name)
    done = {"client": False, "server": False}
    for _ in range(10):
        for side, end in (("client", client_side), ("server", server_side)):
            if not done[side]:
                try:
                    end.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        if all(done.values()):
            return
    raise AssertionError(f"the handshake for {name} did not finish")


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    files = make_tls_files(tmp_path_factory.mktemp("tls"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.cert, files.key)
    client = ssl.create_default_context(cafile=str(files.ca))
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    return server, client


@pytest.mark.parametrize("name", [*LOOPBACK_NAMES, *LOOPBACK_IPS])
def test_the_certificates_pass_a_strict_verifier(contexts, name):
    handshake(*contexts, name)


def test_a_name_the_certificate_does_not_name_is_refused(contexts):
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(*contexts, "example.com")

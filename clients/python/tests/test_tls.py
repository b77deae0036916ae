"""The client over TLS, against the real server serving a self-signed
certificate made for the test. The server does not ask for client
certificates yet, so mutual TLS is checked as far as the client's side goes:
a client certificate and key are loaded and offered."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import agenttrail
from agenttrail_server import Server
from conftest import Connect


def self_signed(directory: pathlib.Path, name: str, ip: str | None = None) -> tuple[pathlib.Path, pathlib.Path]:
    """Writes a self-signed certificate for name (and ip) and its key, PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt: list[x509.GeneralName] = [x509.DNSName(name)]
    if ip is not None:
        alt.append(x509.IPAddress(ipaddress.ip_address(ip)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_tls_with_a_private_ca(
    tmp_path: pathlib.Path, start_server: Callable[..., Server], connect: Connect
) -> None:
    cert, key = self_signed(tmp_path, "localhost", ip="127.0.0.1")
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key))
    client_cert, client_key = self_signed(tmp_path, "agent")

    writer = connect(server, ca_file=cert, cert_file=client_cert, key_file=client_key)
    reader = connect(server, role="compliance", ca_file=cert)
    with writer.session() as session:
        session.output(text="over TLS")
    assert writer.flush(30)
    entries = list(reader.query(session_id=session.session_id))
    assert len(entries) == 3
    assert reader.verify_entries(entries).size >= 3

    # The certificate is for localhost and 127.0.0.1; another expected name
    # fails the handshake, and so does plaintext.
    wrong_name = connect(server, ca_file=cert, server_name="agenttrail.example", max_backoff=0.2)
    plaintext = connect(server, max_backoff=0.2)
    for client in (wrong_name, plaintext):
        with client.session():
            pass
        with pytest.raises(agenttrail.DeliveryTimeoutError):
            client.flush(1.0)
        stats = client.stats()
        assert stats.delivered == 0 and stats.last_error is not None and stats.last_error.startswith("UNAVAILABLE")
        with pytest.raises(agenttrail.DeliveryTimeoutError, match=r"\(they are not in the log\); the last attempt failed: UNAVAILABLE"):
            client.close(timeout=0)


def test_tls_settings_are_checked(tmp_path: pathlib.Path, server: Server) -> None:

    with pytest.raises(ValueError, match="need TLS"):
        agenttrail.Client(server.address, tls=False, ca_file=tmp_path / "ca.pem")
    with pytest.raises(ValueError, match="server_name applies to TLS only"):
        agenttrail.Client(server.address, server_name="x")
    with pytest.raises(FileNotFoundError, match="missing.pem"):
        agenttrail.Client(server.address, ca_file=tmp_path / "missing.pem")

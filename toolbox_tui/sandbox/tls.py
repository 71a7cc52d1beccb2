"""A private certificate authority for local TLS servers, as a deployment with its own CA has.

Provides :class:`CertificateAuthority` (``issue`` a server certificate for host names and IP
addresses, ``write_bundle`` the CA certificate for a client to trust, as
TOOLBOX_CA_BUNDLE names it) and :class:`IssuedCertificate` (``server_context`` for an
``ssl`` server). Keys are EC P-256: generating one takes about a millisecond, where RSA
would slow every test that starts a server.

Nothing here is trusted by the system store, which is the point: a client trusts these
certificates only when told to.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_LIFETIME = timedelta(days=2)
# Certificates start a little in the past, so a clock a few minutes behind still accepts them.
_BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedCertificate:
    """A server certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    def write(self, directory: Path, name: str = "server") -> tuple[Path, Path]:
        """``name.crt`` and ``name.key`` (mode 0600) in ``directory``; returns both paths."""
        cert = directory / f"{name}.crt"
        key = directory / f"{name}.key"
        cert.write_bytes(self.cert_pem)
        _write_private(key, self.key_pem)
        return cert, key

    def server_context(self, directory: Path) -> ssl.SSLContext:
        """A TLS server context presenting this certificate (``ssl`` reads the key from a
        file only, so both are written to ``directory`` first)."""
        cert, key = self.write(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context


class CertificateAuthority:
    """A self-signed CA that issues server certificates; ``cert_pem`` is what clients trust."""

    def __init__(self, name: str = "toolbox-tui sandbox CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + DEFAULT_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem = self._cert.public_bytes(serialization.Encoding.PEM)

    def write_bundle(self, path: Path) -> Path:
        """The CA certificate as a PEM bundle at ``path`` (what TOOLBOX_CA_BUNDLE names)."""
        path.write_bytes(self.cert_pem)
        return path

    def issue(
        self,
        *names: str,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCertificate:
        """A server certificate for ``names`` (each a DNS name or an IP address).

        ``not_before``/``not_after`` default to a validity around now; pass dates in the
        past to get an expired certificate.
        """
        if not names:
            raise ValueError("a certificate needs at least one host name or IP address")
        now = datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - _BACKDATE)
            .not_valid_after(not_after or now + DEFAULT_LIFETIME)
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return IssuedCertificate(cert.public_bytes(serialization.Encoding.PEM), key_pem)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)

"""The sandbox's certificate authority issues what a TLS client checks: names, dates, trust."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from toolbox_tui.sandbox.tls import CertificateAuthority


def test_a_certificate_names_its_hosts_and_is_signed_by_the_ca() -> None:
    ca = CertificateAuthority()
    issued = ca.issue("127.0.0.1", "localhost")
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_pem))


def test_dates_can_be_chosen_for_an_expired_certificate() -> None:
    past = datetime.now(UTC) - timedelta(days=3)
    issued = CertificateAuthority().issue("localhost", not_before=past, not_after=past)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.not_valid_after_utc == past.replace(microsecond=0)


def test_the_private_key_is_written_for_its_owner_only(tmp_path: Path) -> None:
    cert, key = CertificateAuthority().issue("localhost").write(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes() and b"CERTIFICATE" in cert.read_bytes()


def test_a_certificate_needs_a_name() -> None:
    with pytest.raises(ValueError, match="at least one host name"):
        CertificateAuthority().issue()

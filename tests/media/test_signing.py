"""The signing identity: a local CA made once with a signer key only the user reads; user chains checked."""

from __future__ import annotations

import datetime as dt
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from studio.errors import SigningError
from studio.media.signing import SigningIdentity, local_identity, signing_dir


def test_local_identity_is_made_once_with_private_keys(studio_home):
    first = local_identity()
    folder = signing_dir()
    assert str(folder).startswith(str(studio_home))
    assert stat.S_IMODE((folder / "signer.key.pem").stat().st_mode) == 0o600
    assert not (folder / "ca.key.pem").exists()  # the CA key is dropped once the signer is issued
    assert local_identity().chain_pem == first.chain_pem
    leaf = first.leaf
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    ekus = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc > dt.timedelta(days=365 * 20)
    assert first.alg == "es256"


def _cert(key, issuer_key, *, usage=True, eku=True, aki=True, days=365, ca_name="Test CA"):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    builder = builder.add_extension(
        x509.KeyUsage(usage, False, False, False, False, False, False, False, False), critical=True
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture
def keys():
    return ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())


def test_good_user_chain_loads_from_files(tmp_path, keys):
    key, ca = keys
    (tmp_path / "chain.pem").write_bytes(_cert(key, ca))
    (tmp_path / "key.pem").write_bytes(_key_pem(key))
    identity = SigningIdentity.from_files(
        tmp_path / "chain.pem", tmp_path / "key.pem", tsa_url="http://ts.example"
    )
    assert identity.alg == "es256" and identity.subject == "Someone"


@pytest.mark.parametrize(
    ("cert_kwargs", "match"),
    [
        ({"usage": False}, "digitalSignature"),
        ({"eku": False}, "extended key usage"),
        ({"aki": False}, "authority key identifier"),
        ({"days": -1}, "expired"),
    ],
)
def test_certificates_c2pa_would_reject_are_refused(keys, cert_kwargs, match):
    key, ca = keys
    with pytest.raises(SigningError, match=match):
        SigningIdentity.from_pem(_cert(key, ca, **cert_kwargs), _key_pem(key))


def test_mismatched_key_garbage_and_missing_files(tmp_path, keys):
    key, ca = keys
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SigningError, match="does not belong"):
        SigningIdentity.from_pem(_cert(key, ca), _key_pem(other))
    with pytest.raises(SigningError, match="not valid PEM"):
        SigningIdentity.from_pem(b"hello", _key_pem(key))
    with pytest.raises(SigningError, match="private key cannot be read"):
        SigningIdentity.from_pem(
            _cert(key, ca), b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
    with pytest.raises(SigningError, match="cannot read"):
        SigningIdentity.from_files(tmp_path / "none.pem", tmp_path / "none.key")


@pytest.mark.parametrize("curve", [ec.SECP192R1, ec.SECP224R1, ec.SECP256K1])
def test_curves_c2pa_does_not_allow_are_refused_naming_the_curve(keys, curve):
    _, ca = keys
    key = ec.generate_private_key(curve())
    with pytest.raises(SigningError, match=f"elliptic curve {curve.name} is not allowed") as caught:
        SigningIdentity.from_pem(_cert(key, ca), _key_pem(key))
    assert caught.value.hint == "use P-256"


def test_an_ed448_key_is_refused_and_the_allowed_curves_load(keys):
    _, ca = keys
    other = ed448.Ed448PrivateKey.generate()
    with pytest.raises(SigningError, match="Ed448PrivateKey key cannot sign"):
        SigningIdentity.from_pem(_cert(other, ca), _key_pem(other))
    for curve, alg in ((ec.SECP256R1, "es256"), (ec.SECP384R1, "es384"), (ec.SECP521R1, "es512")):
        key = ec.generate_private_key(curve())
        assert SigningIdentity.from_pem(_cert(key, ca), _key_pem(key)).alg == alg

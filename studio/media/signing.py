"""The user's C2PA signing identity: a local certificate authority made on first use, or their own chain."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from studio.errors import SigningError
from studio.paths import signing_dir

# Extended key usages the C2PA certificate profile accepts for a claim signer.
_C2PA_EKUS = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    ExtendedKeyUsageOID.TIME_STAMPING,
    ExtendedKeyUsageOID.OCSP_SIGNING,
    x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # MS document signing
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning
    x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1"),  # c2pa-kp-claimSigning
}
_CA_FILE = "ca.cert.pem"
_LEGACY_CA_KEY_FILE = "ca.key.pem"  # written by earlier versions; removed on sight, see local_identity
_CHAIN_FILE = "signer.chain.pem"
_KEY_FILE = "signer.key.pem"
_CA_YEARS = 30
# Without a timestamp the signature is checked against the current time, so the leaf must outlive the clips.
_LEAF_YEARS = 25


@dataclass(frozen=True)
class SigningIdentity:
    """A certificate chain (leaf first, PEM) and its private key, ready for c2pa-python."""

    chain_pem: bytes
    key_pem: bytes
    alg: str = "es256"
    tsa_url: str | None = None
    # The root a verifier should trust for this identity (the local CA), when we know it.
    anchor_pem: bytes | None = None
    source: str = "local"

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]

    @property
    def subject(self) -> str:
        return _common_name(self.leaf.subject)

    def with_timestamp(self, tsa_url: str | None) -> SigningIdentity:
        """This identity, signing with a timestamp from ``tsa_url`` (an RFC 3161 authority), or without."""
        tsa_url = (tsa_url or "").strip() or None
        _check_tsa_url(tsa_url)
        return replace(self, tsa_url=tsa_url)

    @classmethod
    def from_files(
        cls,
        chain: str | Path,
        key: str | Path,
        *,
        tsa_url: str | None = None,
        password: bytes | None = None,
    ) -> SigningIdentity:
        """Load a user-provided certificate chain (leaf first) and private key; raise SigningError if unusable."""
        chain_pem = _read(chain, "certificate chain")
        key_pem = _read(key, "private key")
        return cls.from_pem(chain_pem, key_pem, tsa_url=tsa_url, password=password, source=str(chain))

    @classmethod
    def from_pem(
        cls,
        chain_pem: bytes,
        key_pem: bytes,
        *,
        tsa_url: str | None = None,
        password: bytes | None = None,
        source: str = "user",
    ) -> SigningIdentity:
        """Check a chain and key against each other and the C2PA profile."""
        try:
            certs = x509.load_pem_x509_certificates(chain_pem)
        except ValueError as exc:
            raise SigningError(
                f"the certificate chain is not valid PEM: {exc}",
                hint="give a PEM file with the signing certificate first, then its issuers",
            ) from exc
        try:
            key = serialization.load_pem_private_key(key_pem, password=password)
        except (ValueError, TypeError) as exc:
            raise SigningError(
                f"the private key cannot be read: {exc}",
                hint="give an unencrypted PEM private key (PKCS#8 or SEC1), or its password",
            ) from exc
        _check_tsa_url(tsa_url)
        leaf = certs[0]
        if _public_bytes(key.public_key()) != _public_bytes(leaf.public_key()):
            raise SigningError(
                "the private key does not belong to the signing certificate",
                hint="the first certificate in the chain must be the one issued for this key",
            )
        alg = _algorithm(key)
        _check_profile(leaf)
        plain_key = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        pem_chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        return cls(chain_pem=pem_chain, key_pem=plain_key, alg=alg, tsa_url=tsa_url, source=source)


def _check_tsa_url(tsa_url: str | None) -> None:
    if tsa_url is not None and not tsa_url.startswith(("http://", "https://")):
        raise SigningError(
            f"the timestamp authority URL '{tsa_url}' is not an http(s) URL",
            hint="give the authority's RFC 3161 URL, for example http://timestamp.digicert.com, or none",
        )


def identity_for(
    certificate: str | Path | None = None, private_key: str | Path | None = None, tsa_url: str | None = None
) -> SigningIdentity:
    """The identity an export signs with: the person's own chain and key when given (both), else the
    local identity; with a timestamp from ``tsa_url`` when given."""
    identity = SigningIdentity.from_files(certificate, private_key) if certificate else local_identity()
    return identity.with_timestamp(tsa_url)


def local_anchor_pem() -> bytes:
    """The local CA certificate (PEM) to trust when verifying; created with the identity if missing."""
    identity = local_identity()
    assert identity.anchor_pem is not None
    return identity.anchor_pem


def local_identity(*, create: bool = True) -> SigningIdentity:
    """The user's local identity from config_dir()/signing/, made on first use (keys readable by the user only)."""
    folder = signing_dir()
    if not (folder / _CHAIN_FILE).exists():
        if not create:
            raise SigningError("no local signing identity exists yet", path=folder)
        _create_local_identity(folder)
    # Earlier versions kept the CA's private key, which nothing reads after the signer's certificate is
    # issued: whoever copied it could issue certificates this machine's verification trusts.
    with contextlib.suppress(FileNotFoundError):
        (folder / _LEGACY_CA_KEY_FILE).unlink()
    try:
        identity = SigningIdentity.from_pem(
            (folder / _CHAIN_FILE).read_bytes(), (folder / _KEY_FILE).read_bytes(), source="local"
        )
        anchor = (folder / _CA_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise SigningError(
            f"the local signing identity is incomplete ({Path(exc.filename).name} is missing)",
            path=folder,
            hint="move the folder aside; Studio makes a new identity on the next export",
        ) from exc
    return SigningIdentity(
        chain_pem=identity.chain_pem,
        key_pem=identity.key_pem,
        alg=identity.alg,
        anchor_pem=anchor,
        source="local",
    )


def _create_local_identity(folder: Path) -> None:
    # Build every file in a private temp folder and rename the folder: a crash or a second process
    # starting at the same time can never leave a key paired with someone else's certificate.
    # The CA's private key signs the one signer certificate and is then dropped, never written: signing needs
    # only the signer's key, verification only the CA's certificate, and a CA key on disk would let whoever
    # reads it mint certificates that `studio verify --trust-local` accepts. The one thing it could still do,
    # reissue the signer's certificate when it expires after _LEAF_YEARS, a new identity does as well.
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".signing.", dir=folder.parent))
    try:
        user = os.environ.get("USER") or os.environ.get("USERNAME") or "user"
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"Studio local CA ({user})"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Studio local signing"),
            ]
        )
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365 * _CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ca_ski, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"Studio signer ({user})"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Studio local signing"),
            ]
        )
        leaf_cert = (
            x509.CertificateBuilder()
            .subject_name(leaf_name)
            .issuer_name(ca_name)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365 * _LEAF_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        _write_private(staging / _KEY_FILE, _key_pem(leaf_key))
        (staging / _CA_FILE).write_bytes(ca_cert.public_bytes(pem))
        (staging / _CHAIN_FILE).write_bytes(leaf_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
        os.chmod(staging, 0o700)
        try:
            os.rename(staging, folder)
        except OSError:
            # Another process made the identity first (the folder exists): use theirs.
            if not (folder / _CHAIN_FILE).exists():
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: never a moment where another user could open it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read the {what}: {exc.strerror}", path=path) from exc


def _public_bytes(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _algorithm(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
        raise SigningError(f"the elliptic curve {key.curve.name} is not allowed by C2PA", hint="use P-256")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise SigningError(f"a {type(key).__name__} key cannot sign C2PA manifests", hint="use an EC P-256 key")


def _check_profile(leaf: x509.Certificate) -> None:
    """Refuse a leaf certificate c2pa would reject, with the reason, before any export starts."""
    name = _common_name(leaf.subject)

    def ext(kind: type) -> object | None:
        try:
            return leaf.extensions.get_extension_for_class(kind).value
        except x509.ExtensionNotFound:
            return None

    basic = ext(x509.BasicConstraints)
    if basic is not None and basic.ca:  # type: ignore[attr-defined]
        raise SigningError(f"'{name}' is a CA certificate; C2PA needs an end-entity signing certificate")
    usage = ext(x509.KeyUsage)
    if usage is None or not usage.digital_signature:  # type: ignore[attr-defined]
        raise SigningError(
            f"the certificate '{name}' lacks the digitalSignature key usage that C2PA requires"
        )
    ekus = ext(x509.ExtendedKeyUsage)
    if ekus is None or not (set(ekus) & _C2PA_EKUS):  # type: ignore[arg-type]
        raise SigningError(
            f"the certificate '{name}' has no extended key usage C2PA accepts",
            hint="issue it with emailProtection or documentSigning",
        )
    if ext(x509.AuthorityKeyIdentifier) is None and leaf.issuer != leaf.subject:
        raise SigningError(f"the certificate '{name}' has no authority key identifier, which C2PA requires")
    if leaf.issuer == leaf.subject:
        raise SigningError(
            f"the certificate '{name}' is self-signed; C2PA needs a certificate issued by a CA",
            hint="leave the identity empty to use Studio's local certificate authority",
        )
    now = dt.datetime.now(dt.UTC)
    if leaf.not_valid_after_utc < now:
        raise SigningError(f"the certificate '{name}' expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    if leaf.not_valid_before_utc > now:
        raise SigningError(
            f"the certificate '{name}' is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}"
        )


def _common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()

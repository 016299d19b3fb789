"""Verify a clip offline: its C2PA manifest (signature, trust, content hash) and the watermark in its pixels.

The file may come from anyone, so every part of the check is bounded and says what it gave up: the
first bytes must say MP4/MOV or MKV/WebM; the C2PA read and the watermark read each run in a child
process with a time and memory limit (verify_child.py); the watermark is read from a bounded number
of frames at reduced size (verify_watermark.py). Measured in tests/benchmarks/bench_verify.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import MediaError, SigningError
from studio.media.provenance import GRAPH_ENCODING, GRAPH_LABEL, SOFT_BINDING_ALG, unpack_graph
from studio.media.verify_c2pa import MAX_BOXES, count_boxes
from studio.media.verify_child import Child, ChildLimits, ChildOutcome
from studio.media.video_read import MAX_UNTRUSTED_PIXELS, container_kind

_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}
# Failure codes that mean the content or the manifest changed after signing.
_TAMPER_CODES = ("mismatch", "assertion.missing", "claimSignature.missing")
# What each kind of tampering means, by the failure code's part.
_TAMPER_WHAT = (
    ("claimSignature", "the claim no longer matches its signature"),
    ("Hash.mismatch", "the media no longer matches its signed hash"),
    ("hashedURI.mismatch", "an assertion of the manifest changed after signing"),
    ("assertion.missing", "an assertion of the manifest went missing"),
)
_MAX_ANCHOR_BYTES = 1 << 20
TrustAnchor = str | bytes | Path


@dataclass(frozen=True)
class VerifyLimits:
    """How far `studio verify` goes with a file from anyone (figures from tests/benchmarks/bench_verify.py).

    The two children run one after the other, so their memory never adds up. The limits are on data
    (address space), which is what the kernel can enforce; resident memory stays below them. Each
    child's limit plus the parent (about 80 MB) and the libraries stays under 1 GB, and the time
    limits add up to under 20 s with the start-up.

    c2pa-rs hashes a clip in 256 MB pieces: 557 MB resident for any clip of 512 MB or more, but the
    address space it reserves grows with the clip (540 MB at 1 GB, 715 MB at 2.3 GB), so a signed
    clip over about 3 GB is reported as not checked. An 8K H.264 decode takes about 420 MB.
    """

    c2pa_seconds: float = 7.0
    c2pa_memory_mb: int = 864
    max_boxes: int = MAX_BOXES
    watermark_seconds: float = 10.0
    watermark_read_seconds: float = 6.0
    watermark_memory_mb: int = 640
    max_pixels: int = MAX_UNTRUSTED_PIXELS
    pixel_budget: int = 96 * 1920 * 1080  # decoded pixels over all frames read: 24 frames of 4K


@dataclass
class WatermarkReport:
    found: bool
    payload: str | None  # hex
    confidence: float
    frames_read: int
    matches_manifest: bool | None  # None when there is no manifest payload to compare with
    summary: str
    checked: bool = True  # False when the watermark was not read at all (summary says why)
    frames_total: int | None = None  # in the clip, by its header
    width: int | None = None
    height: int | None = None
    scale: int = 1  # frames were read at 1/scale size (exact for the detector; see verify_watermark)
    partial: str | None = None  # what of the clip was not read, in a sentence


@dataclass
class VerifyReport:
    """Everything ``studio verify`` says about a file. ``ok`` only for a valid, untampered, signed file."""

    path: str
    has_manifest: bool = False
    valid: bool = False  # the credentials check out as a whole: signature and hashes
    signature_valid: bool | None = None  # the claim signature alone; None without a manifest
    trusted: bool = False
    tampered: bool = False
    state: str = "no manifest"
    signer: str | None = None
    issuer: str | None = None
    signed_at: str | None = None
    signed_at_source: str | None = None  # "timestamp authority" or "claimed by the signer"
    manifest_label: str | None = None
    instance_id: str | None = None
    claim_generator: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    ingredients: list[dict[str, Any]] = field(default_factory=list)
    generation: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    watermark: WatermarkReport | None = None
    graph_document: str | None = None  # the graph the clip was made with, when its credentials carry it
    error: str | None = None
    credentials_not_checked: str | None = None  # why the C2PA read was given up, when it was
    notes: list[str] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # per child: seconds, peak_mb, limits

    @property
    def ok(self) -> bool:
        return self.has_manifest and self.valid and not self.tampered

    @property
    def tamper_codes(self) -> list[str]:
        return [f["code"] for f in self.failures if any(m in f["code"] for m in _TAMPER_CODES)]

    @property
    def tamper_what(self) -> str:
        """What changed after signing, in words."""
        codes = self.tamper_codes
        what = [text for part, text in _TAMPER_WHAT if any(part in code for code in codes)]
        return "; ".join(what or ["the content or the manifest changed after signing"])

    @property
    def tamper_summary(self) -> str:
        """What changed after signing, in words, with the failure codes that say so."""
        codes = self.tamper_codes
        return self.tamper_what + (f" ({', '.join(codes)})" if codes else "")

    @property
    def verdict(self) -> str:
        if self.credentials_not_checked:
            return f"Content Credentials not checked: {self.credentials_not_checked}"
        if self.error:
            return f"cannot be read: {self.error}"
        if not self.has_manifest:
            return "no Content Credentials"
        if self.tampered:
            return f"TAMPERED: {self.tamper_what}"
        if not self.valid:
            if self.signature_valid is False:
                return "INVALID signature"
            codes = ", ".join(f["code"] for f in self.failures if f["code"] != "signingCredential.untrusted")
            return "INVALID credentials" + (f" ({codes})" if codes else "")
        verdict = "valid and trusted" if self.trusted else "valid, signer not trusted"
        if self.watermark_disagrees:
            verdict += "; but the WATERMARK does not match the manifest (the picture may come from another clip)"
        return verdict

    @property
    def watermark_disagrees(self) -> bool:
        """A watermark was read and carries another id than the manifest says it should."""
        return self.watermark is not None and self.watermark.matches_manifest is False

    @property
    def not_checked(self) -> list[str]:
        """Every part of the check that was given up or cut short, a sentence each."""
        found = []
        if self.credentials_not_checked:
            found.append(f"Content Credentials: {self.credentials_not_checked}")
        wmr = self.watermark
        if wmr is not None and not wmr.checked:
            found.append(f"watermark: {wmr.summary.removeprefix('not checked: ')}")
        elif wmr is not None and wmr.partial:
            found.append(f"watermark: {wmr.partial}")
        return found

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["verdict"] = self.verdict
        data["not_checked"] = self.not_checked
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_text(self) -> str:
        lines = [f"File:        {self.path}", f"Verdict:     {self.verdict}"]
        if self.has_manifest:
            lines.append(
                f"Signer:      {self.signer or 'unknown'}"
                + (f" (issued by {self.issuer})" if self.issuer else "")
            )
            when = self.signed_at or "not recorded"
            lines.append(
                f"Signed at:   {when}" + (f" ({self.signed_at_source})" if self.signed_at_source else "")
            )
            lines.append(f"Signature:   {'valid' if self.signature_valid else 'INVALID'}")
            lines.append(
                f"Trust:       {'trusted' if self.trusted else 'signer not trusted (no trust anchor for its issuer)'}"
            )
            lines.append(
                f"Content:     {'TAMPERED: ' + self.tamper_summary if self.tampered else 'matches its signed hash'}"
            )
            if self.claim_generator:
                lines.append(f"Made with:   {self.claim_generator}")
            for action in self.actions:
                agent = action.get("softwareAgent") or {}
                agent_text = (
                    f" by {agent.get('name', '')} {agent.get('version', '')}".rstrip() if agent else ""
                )
                source = action.get("digitalSourceType", "")
                lines.append(
                    f"Action:      {action.get('action')}{agent_text}"
                    + (f" [{source.rsplit('/', 1)[-1]}]" if source else "")
                )
            gen = self.generation
            if gen:
                model = gen.get("model") or {}
                lines.append(f"Model:       {model.get('name')} ({model.get('hash') or 'no weights hash'})")
                for prompt in gen.get("prompts") or []:
                    lines.append(f"Prompt:      {prompt}")
                lines.append(f"Seed:        {gen.get('seed')}")
                if gen.get("graph_hash"):
                    lines.append(f"Graph:       {gen['graph_hash']}")
                if gen.get("settings"):
                    lines.append(f"Settings:    {json.dumps(gen['settings'], sort_keys=True)}")
            for ing in self.ingredients:
                lines.append(
                    f"Ingredient:  {ing.get('title')} ({ing.get('format')}, {ing.get('relationship')})"
                )
            for failure in self.failures:
                lines.append(f"Problem:     {failure.get('code')}: {failure.get('explanation', '')}")
        if self.watermark is not None:
            lines.append(f"Watermark:   {watermark_text(self.watermark)}")
        for note in self.notes:
            lines.append(f"Note:        {note}")
        for item in self.not_checked:
            lines.append(f"Not checked: {item}")
        return "\n".join(lines)


def watermark_text(wmr: WatermarkReport, *, matches: str = ", matches the manifest",
                   differs: str = ", DOES NOT match the manifest") -> str:  # fmt: skip
    """The watermark line: what was found, how it compares, and how much of the clip was read."""
    text = wmr.summary
    if wmr.matches_manifest is True:
        text += matches
    elif wmr.matches_manifest is False:
        text += differs
    if wmr.checked and wmr.frames_read:
        text += f" (read {wmr.frames_read} frame{'s' if wmr.frames_read != 1 else ''}"
        text += f" at 1/{wmr.scale} size)" if wmr.scale > 1 else ")"
    return text


def verify_file(
    path: str | Path,
    trust_anchors: Sequence[TrustAnchor] | TrustAnchor | None = None,
    *,
    check_watermark: bool = True,
    max_watermark_frames: int = 96,
    limits: VerifyLimits | None = None,
) -> VerifyReport:
    """Verify ``path`` offline, within ``limits``. ``trust_anchors``: PEM text/bytes, PEM file paths, or
    ``"local"`` for the user's own Studio CA. Never raises for a bad clip (the report says why and what
    it did not check); raises MediaError for what is not a video file at all, SigningError for an
    unusable trust anchor."""
    limits = limits or VerifyLimits()
    path = Path(path)
    if not path.exists():
        raise MediaError("no such file", path=path)
    if not path.is_file():
        raise MediaError("this is not a file (a folder or a device)", path=path)
    kind = container_kind(path)  # refuses what is not video before any parser sees it
    anchors = _anchors_pem(trust_anchors)
    report = VerifyReport(path=str(path))
    children: list[Child] = []
    try:
        manifest_payload = None
        if kind == "matroska":
            report.notes.append("MKV and WebM files cannot carry Content Credentials")
        elif count_boxes(path, limits.max_boxes) > limits.max_boxes:
            report.credentials_not_checked = (
                f"the file has more than {limits.max_boxes:,} MP4 boxes, which no real clip has"
            )
        else:
            mime = _MIME.get(path.suffix.lower(), "video/mp4")
            credentials = Child(
                "c2pa",
                {"path": str(path), "mime": mime, "anchors_pem": anchors},
                ChildLimits(limits.c2pa_seconds, limits.c2pa_memory_mb),
            )
            children.append(credentials)
            manifest_payload = _take_credentials(report, credentials.outcome())
        if check_watermark:
            # After the C2PA child has ended, not beside it: then the memory of the two never adds up.
            pixels = Child(
                "watermark",
                {
                    "path": str(path),
                    "max_frames": max_watermark_frames,
                    "pixel_budget": limits.pixel_budget,
                    "seconds": limits.watermark_read_seconds,
                    "max_pixels": limits.max_pixels,
                },
                ChildLimits(limits.watermark_seconds, limits.watermark_memory_mb),
            )
            children.append(pixels)
            outcome = pixels.outcome()
            report.watermark = _take_watermark(outcome, manifest_payload)
            report.resources["watermark"] = _resources(outcome)
    finally:
        for child in children:  # only after Ctrl-C or an error of ours: each outcome() waits for its end
            child.kill()
    return report


def _resources(outcome: ChildOutcome) -> dict[str, Any]:
    return {"seconds": round(outcome.seconds, 3), **outcome.resources}


def _take_credentials(report: VerifyReport, outcome: ChildOutcome) -> str | None:
    report.resources["c2pa"] = _resources(outcome)
    answer = outcome.answer
    if answer is None or answer.get("gave_up"):
        report.credentials_not_checked = outcome.problem if answer is None else answer["error"]
        return None
    if answer.get("not_found"):
        return None
    if answer.get("error"):
        report.error = f"the manifest cannot be read: {answer['error']}"
        return None
    report.has_manifest = True
    return _fill_from_manifest(report, answer["manifest"], answer.get("state"), answer.get("results") or {})


def _take_watermark(outcome: ChildOutcome, manifest_payload: str | None) -> WatermarkReport:
    answer = outcome.answer
    if answer is None or answer.get("error"):
        reason = outcome.problem if answer is None else answer["error"]
        return WatermarkReport(False, None, 0.0, 0, None, f"not checked: {reason}", checked=False)
    payload = answer["payload"]
    matches = None if (manifest_payload is None or payload is None) else payload == manifest_payload
    if manifest_payload is not None and payload is None:
        matches = False
    report = WatermarkReport(
        answer["found"],
        payload,
        answer["confidence"],
        answer["frames_read"],
        matches,
        answer["summary"],
        frames_total=answer.get("frames_total"),
        width=answer.get("width"),
        height=answer.get("height"),
        scale=answer.get("scale", 1),
    )
    report.partial = _partial(answer)
    return report


def _partial(answer: dict[str, Any]) -> str | None:
    """A sentence when part of the clip was not read, naming the limit that cut it short."""
    read, total, stopped = answer["frames_read"], answer.get("frames_total"), answer.get("stopped")
    size = f"{answer['width']}x{answer['height']}"
    if stopped:
        of = f" of {total}" if total else ""
        return f"read the first {read}{of} frames only: reading stopped at {stopped}"
    if total and read < total:
        scale = f" at 1/{answer['scale']} size" if answer.get("scale", 1) > 1 else ""
        return f"checked the first {read} of {total} frames{scale} (the clip is {size})"
    return None


def _fill_from_manifest(report: VerifyReport, manifest: dict, state: str | None, results: dict) -> str | None:
    report.state = state or "unknown"
    report.manifest_label = manifest.get("label")
    report.instance_id = manifest.get("instance_id")
    sig = manifest.get("signature_info") or {}
    report.signer = sig.get("common_name")
    report.issuer = sig.get("issuer")
    if sig.get("time"):
        report.signed_at, report.signed_at_source = sig["time"], "timestamp authority"
    generators = manifest.get("claim_generator_info") or []
    if generators:
        report.claim_generator = " ".join(str(generators[0].get(k, "")) for k in ("name", "version")).strip()
    active = results.get("activeManifest") or {}
    failures = [
        {"code": f.get("code", ""), "explanation": f.get("explanation", "")}
        for f in active.get("failure", []) or []
    ]
    report.failures = failures
    codes = [f["code"] for f in failures]
    report.tampered = any(any(marker in code for marker in _TAMPER_CODES) for code in codes)
    report.trusted = state == "Trusted"
    # "Valid" still lists signingCredential.untrusted as a failure: that is about trust, not validity.
    report.valid = state in ("Valid", "Trusted") and not report.tampered
    # The claim signature on its own: a media hash mismatch leaves it valid (the signed claim is
    # intact; the pictures are not), which the report must not call an invalid signature.
    successes = {s.get("code") for s in active.get("success", []) or []}
    signature_broken = any(
        code.startswith(("claimSignature.", "timeStamp."))
        or (code.startswith("signingCredential.") and code != "signingCredential.untrusted")
        for code in codes
    )
    report.signature_valid = "claimSignature.validated" in successes and not signature_broken
    payload = None
    for assertion in manifest.get("assertions", []):
        label, data = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            report.actions = [dict(a) for a in data.get("actions", [])]
        elif label == GRAPH_LABEL and data.get("encoding") == GRAPH_ENCODING and isinstance(data.get("data"), str):
            report.graph_document = unpack_graph(data["data"])
        elif label == "c2pa.soft-binding" and data.get("alg") == SOFT_BINDING_ALG:
            blocks = data.get("blocks") or []
            if blocks:
                payload = base64.b64decode(blocks[0].get("value", "")).hex()
    for action in report.actions:
        if action.get("action") == "c2pa.created":
            params = dict(action.get("parameters") or {})
            params.pop("ingredients", None)
            report.generation = params
            if report.signed_at is None and action.get("when"):
                report.signed_at, report.signed_at_source = (
                    action["when"],
                    "claimed by the signer, not timestamped",
                )
    report.ingredients = [
        {k: ing.get(k) for k in ("title", "format", "relationship", "instance_id")}
        for ing in manifest.get("ingredients", []) or []
    ]
    return payload


def _anchors_pem(anchors: Sequence[TrustAnchor] | TrustAnchor | None) -> str | None:
    if anchors is None:
        return None
    if isinstance(anchors, str | bytes | Path):
        anchors = [anchors]
    pems: list[str] = []
    for item in anchors:
        if isinstance(item, bytes):
            pems.append(_checked_pem(item.decode("utf-8", "replace"), None))
        elif isinstance(item, str) and item == "local":
            from studio.media.signing import local_identity

            try:
                identity = local_identity(create=False)
            except SigningError:
                continue  # no local identity yet: nothing of ours to trust
            if identity.anchor_pem:
                pems.append(identity.anchor_pem.decode())
        elif isinstance(item, str) and "-----BEGIN" in item:
            pems.append(_checked_pem(item, None))
        elif isinstance(item, str) and ("\n" in item or len(item) > 4096):
            # Never echo text that is not a file name back as one.
            raise SigningError(
                "a trust anchor is neither a PEM certificate nor the name of a file",
                hint="give the path of the authority's certificate, a .pem file",
            )
        else:
            pems.append(_checked_pem(_read_anchor(Path(item)), Path(item)))
    return "\n".join(p.strip() + "\n" for p in pems) or None


def _read_anchor(path: Path) -> str:
    hint = (
        "give the path of the authority's certificate, a PEM file starting with -----BEGIN CERTIFICATE-----"
    )
    if not path.exists():
        raise SigningError("the trust anchor file does not exist", path=path, hint=hint)
    if not path.is_file():
        raise SigningError("the trust anchor is not a file", path=path, hint=hint)
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_ANCHOR_BYTES + 1)
    except OSError as exc:
        raise SigningError(f"cannot read the trust anchor: {exc.strerror}", path=path) from exc
    if len(data) > _MAX_ANCHOR_BYTES:
        raise SigningError("the trust anchor file is larger than any certificate", path=path, hint=hint)
    return data.decode("utf-8", "replace")


def _checked_pem(text: str, path: Path | None) -> str:
    """``text`` if it holds at least one X.509 certificate in PEM; SigningError saying what is wrong else."""
    from cryptography import x509

    hint = "a PEM certificate starts with -----BEGIN CERTIFICATE-----"
    where = {"path": path} if path is not None else {}
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise SigningError("the trust anchor is not a PEM certificate", hint=hint, **where)
    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise SigningError(
            "the trust anchor's certificate is damaged: its PEM block does not decode", hint=hint, **where
        ) from exc
    return text

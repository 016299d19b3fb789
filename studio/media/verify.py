"""Verify a clip offline: its C2PA manifest (signature, trust, content hash) and the watermark in its pixels."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from studio.errors import MediaError, SigningError
from studio.media import watermark as wm
from studio.media.encode import read_luma
from studio.media.provenance import SOFT_BINDING_ALG, offline_context
from studio.media.signing import local_identity

_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}
# Failure codes that mean the content or the manifest changed after signing.
_TAMPER_CODES = ("mismatch", "assertion.missing", "claimSignature.missing")
TrustAnchor = str | bytes | Path


@dataclass
class WatermarkReport:
    found: bool
    payload: str | None  # hex
    confidence: float
    frames_read: int
    matches_manifest: bool | None  # None when there is no manifest payload to compare with
    summary: str


@dataclass
class VerifyReport:
    """Everything ``studio verify`` says about a file. ``ok`` only for a valid, untampered, signed file."""

    path: str
    has_manifest: bool = False
    valid: bool = False
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
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.has_manifest and self.valid and not self.tampered

    @property
    def verdict(self) -> str:
        if self.error:
            return f"cannot be read: {self.error}"
        if not self.has_manifest:
            return "no Content Credentials"
        if self.tampered:
            return "TAMPERED: the content or manifest changed after signing"
        if not self.valid:
            return "INVALID signature"
        if self.trusted:
            return "valid and trusted"
        return "valid, signer not trusted"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["verdict"] = self.verdict
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
            lines.append(f"Signature:   {'valid' if self.valid else 'INVALID'}")
            lines.append(
                f"Trust:       {'trusted' if self.trusted else 'signer not trusted (no trust anchor for its issuer)'}"
            )
            lines.append(
                f"Content:     {'TAMPERED (hash mismatch)' if self.tampered else 'matches its signed hash'}"
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
            wmr = self.watermark
            text = wmr.summary
            if wmr.matches_manifest is True:
                text += ", matches the manifest"
            elif wmr.matches_manifest is False:
                text += ", DOES NOT match the manifest"
            lines.append(f"Watermark:   {text}")
        return "\n".join(lines)


def verify_file(
    path: str | Path,
    trust_anchors: Sequence[TrustAnchor] | TrustAnchor | None = None,
    *,
    check_watermark: bool = True,
    max_watermark_frames: int = 96,
) -> VerifyReport:
    """Verify ``path`` offline. ``trust_anchors``: PEM text/bytes, PEM file paths, or ``"local"`` for the
    user's own Studio CA. Never raises for a bad file (the report says why); raises MediaError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise MediaError("no such file", path=path)
    report = VerifyReport(path=str(path))
    anchors = _anchors_pem(trust_anchors)
    manifest_payload: str | None = None
    mime = _MIME.get(path.suffix.lower(), "video/mp4")
    try:
        with open(path, "rb") as fh, c2pa.Reader(mime, fh, context=offline_context(anchors)) as reader:
            manifest = reader.get_active_manifest()
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        text = str(exc)
        if "ManifestNotFound" not in type(exc).__name__ and "not found" not in text.lower():
            report.error = f"the manifest cannot be read: {text}"
        manifest = None
        state, results = None, {}
    if manifest:
        report.has_manifest = True
        manifest_payload = _fill_from_manifest(report, manifest, state, results)
    if check_watermark:
        report.watermark = _read_watermark(path, manifest_payload, max_watermark_frames)
    return report


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
    payload = None
    for assertion in manifest.get("assertions", []):
        label, data = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            report.actions = [dict(a) for a in data.get("actions", [])]
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


def _read_watermark(path: Path, manifest_payload: str | None, max_frames: int) -> WatermarkReport:
    try:
        luma = read_luma(path, max_frames=max_frames)
        found = wm.detect(luma)
    except MediaError as exc:
        return WatermarkReport(False, None, 0.0, 0, None, f"not checked: {exc.message}")
    payload = found.payload_hex
    matches = None if (manifest_payload is None or payload is None) else payload == manifest_payload
    if manifest_payload is not None and payload is None:
        matches = False
    return WatermarkReport(found.found, payload, found.confidence, found.frames, matches, found.describe())


def _anchors_pem(anchors: Sequence[TrustAnchor] | TrustAnchor | None) -> str | None:
    if anchors is None:
        return None
    if isinstance(anchors, str | bytes | Path):
        anchors = [anchors]
    pems: list[str] = []
    for item in anchors:
        if isinstance(item, bytes):
            pems.append(item.decode())
        elif isinstance(item, str) and item == "local":
            try:
                identity = local_identity(create=False)
            except SigningError:
                continue  # no local identity yet: nothing of ours to trust
            if identity.anchor_pem:
                pems.append(identity.anchor_pem.decode())
        elif isinstance(item, str) and "-----BEGIN" in item:
            pems.append(item)
        else:
            try:
                pems.append(Path(item).read_text())
            except OSError as exc:
                raise MediaError(f"cannot read the trust anchor: {exc.strerror}", path=item) from exc
    return "\n".join(p.strip() + "\n" for p in pems) or None

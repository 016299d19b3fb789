"""C2PA manifests for Studio clips: what made them (model, prompts, seed, graph), and signing them."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import mimetypes
import shutil
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import c2pa

from studio import __version__
from studio.errors import MediaError, SigningError
from studio.media import partfiles
from studio.media.signing import SigningIdentity
from studio.values import Generation

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFT_BINDING_ALG = "org.studio.watermark.lumaqim.1"
GENERATION_KEY = "org.studio.generation"
MAX_MANIFEST_BYTES = 1_048_576  # c2pa-python 0.38.1: one byte more fails with StringTooLong: manifest_json
Relationship = Literal["inputTo", "componentOf", "parentOf"]
_EXTRA_MIME = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".webp": "image/webp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
}


@dataclass(frozen=True)
class Ingredient:
    """A file the clip was made from: a reference image (``inputTo``) or the audio track (``componentOf``)."""

    path: Path
    relationship: Relationship | None = None
    title: str | None = None

    @property
    def mime(self) -> str:
        suffix = self.path.suffix.lower()
        return (
            _EXTRA_MIME.get(suffix) or mimetypes.guess_type(self.path.name)[0] or "application/octet-stream"
        )

    @property
    def role(self) -> Relationship:
        # The audio is part of the exported file; an image only guided the generation.
        if self.relationship:
            return self.relationship
        return "componentOf" if self.mime.startswith(("audio/", "video/")) else "inputTo"


@dataclass
class Provenance:
    """How a clip was generated, as the Export node knows it; goes into the c2pa.created action."""

    model_name: str
    model_hash: str | None = None
    prompts: list[str] = field(default_factory=list)
    seed: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    graph_hash: str | None = None
    ingredients: list[Ingredient | str | Path] = field(default_factory=list)
    title: str | None = None
    graph_document: str | None = None  # the graph file's JSON as it ran: File > Open on the clip rebuilds it
    # LoRAs as 'file sha256:... @strength': ingredients recorded by name and hash (the files are not read again)
    adapters: list[str] = field(default_factory=list)

    @classmethod
    def from_generation(
        cls, made: Generation | None, *, graph_hash: str | None = None, audio_source: str | None = None,
        graph_document: str | None = None,
    ) -> Provenance:
        """What a rendered clip's generation record says about how it was made (the Export node and the
        editor's Export dialog both sign this); the reference image and the sound file are ingredients.
        ``None`` (a clip that does not say) signs as made by an unknown model."""
        made = made if made is not None else Generation()
        return cls(
            model_name=made.model or "unknown",
            model_hash=made.model_hash,
            prompts=made.prompts,
            seed=made.seed,
            settings=made.settings() | _shaping(made),
            graph_hash=graph_hash,
            ingredients=[*made.ingredients, *([audio_source] if audio_source else [])],
            adapters=list(made.adapters),
            graph_document=graph_document,
        )

    def ingredient_list(self) -> list[Ingredient]:
        return [i if isinstance(i, Ingredient) else Ingredient(Path(i)) for i in self.ingredients]

    def adapter_ingredients(self) -> list[dict[str, Any]]:
        """Each LoRA as an ingredient of the manifest definition: its file name as the title, its content hash
        as the instance id, its strength in the description. Not streamed into c2pa as the pictures are: a
        LoRA file is hundreds of megabytes that were hashed when the model loaded it."""
        found = []
        for record in self.adapters:
            parts = record.rsplit(" ", 2)
            if len(parts) == 3 and parts[1].startswith("sha256:") and parts[2].startswith("@"):
                title, digest, strength = parts[0], parts[1], parts[2][1:]
                found.append({"title": title, "format": "application/octet-stream", "relationship": "inputTo",
                              "instance_id": digest, "description": f"LoRA adapter at strength {strength}"})
            # a record without a hash names no file anyone could check: it stays in the settings only
        return found

    def parameters(self) -> dict[str, Any]:
        """The generation parameters as plain JSON (what verify reads back)."""
        try:
            settings = json.loads(json.dumps(self.settings, default=str))
        except (TypeError, ValueError) as exc:
            raise MediaError(f"the generation settings cannot be written as JSON: {exc}") from exc
        return {
            "model": {"name": self.model_name, "hash": self.model_hash},
            "prompts": list(self.prompts),
            "seed": self.seed,
            "settings": settings,
            "graph_hash": self.graph_hash,
        }


def _shaping(made: Generation) -> dict[str, Any]:
    """What else in the record shaped the pictures, so the manifest says all of it: adapters change the model,
    a schedule's later prompts and the camera path steer the frames, the picture's use decides its role."""
    extra: dict[str, Any] = {
        "adapters": list(made.adapters) or None,
        "schedule": [[float(start), text] for start, text in made.sections] or None,
        "blend": made.blend if made.sections else None,
        "reference_use": made.reference_use,
        "camera": made.camera,
        "camera_mode": made.camera_mode,
        # a sequence: each shot's name, start, prompt, seed, transition and character, as rendered
        "shots": [{"name": shot.name, "start": float(shot.start), "prompt": shot.prompt, "seed": shot.seed,
                   "transition": shot.transition, "character": shot.character} for shot in made.shots] or None,
    }
    return {k: v for k, v in extra.items() if v is not None}


def hash_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """``sha256:<hex>`` of a file, read in chunks so multi-gigabyte weights do not load into memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def hash_weights(
    folder: str | Path, patterns: tuple[str, ...] = ("*.safetensors", "*.bin", "*.pt", "*.ckpt")
) -> str:
    """One hash over every weights file of a model folder (relative names and contents, in sorted order)."""
    root = Path(folder)
    if root.is_file():
        return hash_file(root)
    files = sorted({p for pat in patterns for p in root.rglob(pat) if p.is_file()})
    if not files:
        raise MediaError("the model folder holds no weights files to hash", path=root)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hash_file(path).encode() + b"\n")
    return f"sha256:{digest.hexdigest()}"


GRAPH_LABEL = "org.studio.graph"  # the graph as it ran, so that File > Open on the clip rebuilds it
GRAPH_ENCODING = "zlib+base64"
MAX_PACKED_GRAPH = 256 << 10  # a graph that compresses to more than this stays out (the manifest's 1 MiB)
MAX_UNPACKED_GRAPH = 8 << 20  # what a reader inflates at most: a small assertion must not become gigabytes


def pack_graph(document: str) -> str | None:
    """The graph file's JSON, compressed and base64-encoded for the manifest; None when too large to carry."""
    packed = base64.b64encode(zlib.compress(document.encode("utf-8"), 9)).decode("ascii")
    return packed if len(packed) <= MAX_PACKED_GRAPH else None


def unpack_graph(packed: str) -> str | None:
    """The graph JSON back from a manifest, or None if it is not one we wrote or would inflate past the bound."""
    try:
        raw = base64.b64decode(packed.encode("ascii"), validate=True)
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, MAX_UNPACKED_GRAPH)
        if inflater.unconsumed_tail or not inflater.eof:
            return None
        return text.decode("utf-8")
    except (ValueError, UnicodeError, zlib.error):
        return None


def build_manifest(
    provenance: Provenance,
    *,
    title: str,
    instance_id: str,
    watermark_payload: bytes | None,
    ingredient_labels: list[str],
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    """The manifest definition c2pa's Builder takes: a c2pa.created action with our parameters."""
    when = when or dt.datetime.now(dt.UTC)
    parameters = provenance.parameters()
    if ingredient_labels:
        # c2pa-rs turns these ids into hashed links to the ingredient assertions.
        parameters["ingredientIds"] = ingredient_labels
    actions: list[dict[str, Any]] = [
        {
            "action": "c2pa.created",
            "when": when.isoformat().replace("+00:00", "Z"),
            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": {"name": "Studio", "version": __version__},
            "parameters": parameters,
        }
    ]
    assertions: list[dict[str, Any]] = []
    if watermark_payload is not None:
        # A watermark action must come with a soft-binding assertion saying what the pixels carry.
        actions.append(
            {
                "action": "c2pa.watermarked",
                "softwareAgent": {"name": "Studio", "version": __version__},
                "parameters": {"description": "invisible luma watermark carrying the instance id prefix"},
            }
        )
        assertions.append(
            {
                "label": "c2pa.soft-binding",
                "data": {
                    "alg": SOFT_BINDING_ALG,
                    "blocks": [{"scope": {}, "value": base64.b64encode(watermark_payload).decode()}],
                },
            }
        )
    packed = pack_graph(provenance.graph_document) if provenance.graph_document else None
    if packed is not None:
        assertions.append({"label": GRAPH_LABEL, "data": {"encoding": GRAPH_ENCODING, "data": packed}})
    adapters = provenance.adapter_ingredients()
    return {
        "claim_generator_info": [{"name": "Studio", "version": __version__}],
        "title": title,
        "format": "video/mp4",
        "instance_id": instance_id,
        **({"ingredients": adapters} if adapters else {}),
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}, *assertions],
    }


@dataclass(frozen=True)
class DeferredSigning:
    """What ``sign_mp4`` was asked to sign while signing was deferred: enough for another machine to sign the
    clip later, exactly as it would have been signed here (same instance id and watermark binding)."""

    provenance: Provenance
    instance_id: str
    watermark_payload: bytes | None
    thumbnail: int


_DEFERRED: ContextVar[Callable[[Path, DeferredSigning], None] | None] = ContextVar("studio_defer_signing",
                                                                                    default=None)


@contextlib.contextmanager
def signing_deferred(collect: Callable[[Path, DeferredSigning], None]) -> Iterator[None]:
    """Within this block (this thread), ``sign_mp4`` leaves its destination unsigned and hands
    ``collect(destination, request)`` what it would have signed with. For a render farm: the clip is signed
    where it is finally placed, by that machine's identity, not by the worker that rendered it."""
    token = _DEFERRED.set(collect)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def sign_mp4(
    source: Path,
    destination: Path,
    provenance: Provenance,
    identity: SigningIdentity,
    *,
    instance_id: str,
    watermark_payload: bytes | None,
    thumbnail: int = 256,
) -> str:
    """Embed a signed manifest into the MP4 ``source``, writing ``destination``; return the manifest label.

    Each ingredient is recorded by its file name as the graph gave it (never a folder, never a name resolved
    through links), with a JPEG thumbnail whose longest side is ``thumbnail`` pixels (0: no thumbnail)."""
    ingredients = provenance.ingredient_list()
    for ing in ingredients:
        if not ing.path.is_file():
            raise MediaError(
                "an ingredient file is missing", path=ing.path, hint="it is recorded in the manifest"
            )
    labels = [f"ingredient-{i}" for i, ing in enumerate(ingredients) if ing.role == "inputTo"]
    manifest = build_manifest(
        provenance,
        title=provenance.title or _clip_name(destination),
        instance_id=instance_id,
        watermark_payload=watermark_payload,
        ingredient_labels=labels,
    )
    size = len(json.dumps(manifest).encode())
    if size > MAX_MANIFEST_BYTES:
        raise MediaError(
            f"the Content Credentials would be {size:,} bytes; c2pa takes at most {MAX_MANIFEST_BYTES:,}",
            hint="shorten the prompts",
        )
    collect = _DEFERRED.get()
    if collect is not None:
        shutil.copyfile(source, destination)
        collect(destination, DeferredSigning(provenance, instance_id, watermark_payload, thumbnail))
        return ""
    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(
                alg=identity.alg.encode(),
                sign_cert=identity.chain_pem,
                private_key=identity.key_pem,
                ta_url=identity.tsa_url.encode() if identity.tsa_url else None,
            )
        )
    except c2pa.C2paError as exc:
        raise SigningError(f"c2pa refused the signing identity: {exc}", path=identity.source) from exc
    try:
        with signer, c2pa.Builder(manifest, context=builder_context(thumbnail)) as builder:
            for index, ing in enumerate(ingredients):
                spec: dict[str, Any] = {"title": ing.title or ing.path.name, "relationship": ing.role}
                if ing.role == "inputTo":
                    spec["label"] = f"ingredient-{index}"
                with open(ing.path, "rb") as fh:
                    builder.add_ingredient(spec, ing.mime, fh)
            with open(source, "rb") as src, open(destination, "w+b") as dst:
                builder.sign(signer, "video/mp4", src, dst)
            return _active_label(destination)
    except c2pa.C2paError as exc:
        text = str(exc)
        if identity.tsa_url and ("http" in text.lower() or identity.tsa_url in text):
            raise SigningError(
                f"the timestamp authority {identity.tsa_url} could not be reached or refused: {text}",
                hint="check the URL and the network, or sign without a timestamp (clear the URL)",
            ) from exc
        if "certificate" in text.lower() or "signing" in text.lower() or "timestamp" in text.lower():
            raise SigningError(f"signing failed: {text}", path=identity.source) from exc
        raise MediaError(f"writing the Content Credentials failed: {text}", path=destination) from exc


def _clip_name(destination: Path) -> str:
    """The name the clip is exported under: an export signs into a hidden part file beside it, whose name
    would otherwise become the manifest's title."""
    parsed = partfiles.parse(destination.name)
    return parsed[0] if parsed is not None else destination.name


def _active_label(path: Path) -> str:
    with open(path, "rb") as fh, c2pa.Reader("video/mp4", fh, context=offline_context()) as reader:
        manifest = reader.get_active_manifest() or {}
        state = reader.get_validation_state()
    if state not in ("Valid", "Trusted"):
        raise SigningError(f"the signed file does not verify (state {state})", path=path)
    return str(manifest.get("label", ""))


def builder_context(thumbnail: int) -> c2pa.Context:
    """Signing settings: ingredient thumbnails at most ``thumbnail`` pixels on the long side, or none (0)."""
    if thumbnail < 0:
        raise MediaError(f"a thumbnail size of {thumbnail} pixels is not possible", hint="use 0 for none")
    shape = {"enabled": True, "long_edge": int(thumbnail)} if thumbnail else {"enabled": False}
    return c2pa.Context.from_dict({"builder": {"thumbnail": shape}})


def offline_context(anchors_pem: str | None = None) -> c2pa.Context:
    """A c2pa Context that never goes to the network (no remote manifests, no OCSP)."""
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if anchors_pem:
        settings["trust"] = {"user_anchors": anchors_pem}
    return c2pa.Context.from_dict(settings)

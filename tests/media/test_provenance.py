"""The signed manifest of a real exported clip, read back with c2pa assertion by assertion, and `verify`'s
watermark check against clips that must not match: none, someone else's, one that disagrees with the manifest."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import av
import c2pa
import cv2
import numpy as np
import pytest
import soundfile as sf

from studio import __version__
from studio.media import watermark as wm
from studio.media.encode import encode_video
from studio.media.export import ExportOptions, export_video
from studio.media.provenance import (
    SOFT_BINDING_ALG,
    TRAINED_ALGORITHMIC_MEDIA,
    Provenance,
    offline_context,
    sign_mp4,
)
from studio.media.signing import local_anchor_pem, local_identity
from studio.media.verify import verify_file
from studio.values import Generation, Sound, Video
from tests.media.clips import natural_clip, tone
from tests.media.helpers import mdat_offset

FPS = 24
SIZE = 128  # cells of 8 px: the watermark reads after x264 like a real clip's


def made(reference: str | None) -> Generation:
    return Generation(
        model="wan-tiny", model_hash="sha256:" + "ab" * 32, adapters=("film-grain",), prompt="a red kite",
        negative="blurry", sections=((0.0, "a red kite"), (0.5, "a red kite over dunes")), blend=0.25, seed=1234,
        steps=4, guidance=5.0, width=SIZE, height=SIZE, num_frames=24, fps=FPS, mode="i2v",
        reference_image=reference, reference_use="first_frame", camera="pan_right", camera_mode="noise",
    )


@pytest.fixture(scope="module")
def frames():
    return natural_clip(24, SIZE, SIZE, seed=11)


@pytest.fixture(scope="module")
def signed(tmp_path_factory, frames):
    """A clip exported the way the Export node does: reference picture and sound file as ingredients.
    Signed in a home of its own (module fixtures run before the per-test one), trusted by ``read``."""
    folder = tmp_path_factory.mktemp("signed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(folder / "home"))
        yield export(folder, frames), local_anchor_pem()


def export(folder, frames):
    picture = folder / "kite.png"
    cv2.imwrite(str(picture), np.full((16, 16, 3), 90, np.uint8))
    music = folder / "music.wav"
    sf.write(str(music), tone(1.0), 48000)
    video = Video(frames, FPS, made(str(picture)))
    return export_video(video, folder / "kite.mp4", audio=Sound(tone(1.0), 48000, source=str(music)),
                        graph_hash="sha256:" + "cd" * 32)


def read(path, anchor: bytes | None = None) -> tuple[dict, dict, str]:
    """The active manifest, the validation results and state, straight from c2pa."""
    anchor = anchor or local_anchor_pem()
    with open(path, "rb") as fh, c2pa.Reader("video/mp4", fh, context=offline_context(anchor.decode())) as reader:
        return reader.get_active_manifest(), reader.get_validation_results(), reader.get_validation_state()


def assertions(manifest: dict) -> dict[str, dict]:
    return {a["label"]: a["data"] for a in manifest["assertions"]}


def test_the_claim_names_the_clip_its_maker_and_instance(signed):
    signed, anchor = signed
    manifest, results, state = read(signed.path, anchor)
    assert state == "Trusted" and not results["activeManifest"]["failure"]
    assert manifest["label"] == signed.manifest_label
    assert manifest["title"] == "kite.mp4"  # the clip's name, not the part file it was signed in
    assert manifest["instance_id"] == signed.instance_id
    generator = manifest["claim_generator_info"][0]
    assert (generator["name"], generator["version"]) == ("Studio", __version__)
    assert set(assertions(manifest)) == {"c2pa.hash.bmff.v3", "c2pa.actions.v2", "c2pa.soft-binding"}


def test_the_created_action_carries_every_generation_parameter(signed):
    signed, anchor = signed
    manifest, _, _ = read(signed.path, anchor)
    actions = assertions(manifest)["c2pa.actions.v2"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.created", "c2pa.watermarked"]
    created = actions[0]
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {"name": "Studio", "version": __version__}
    when = dt.datetime.fromisoformat(created["when"].replace("Z", "+00:00"))
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - when < dt.timedelta(minutes=10)
    parameters = dict(created["parameters"])
    parameters.pop("ingredients")
    # written out by hand from made(): a field the manifest loses or misspells fails here
    assert parameters == {
        "model": {"name": "wan-tiny", "hash": "sha256:" + "ab" * 32},
        "prompts": ["a red kite", "blurry"],
        "seed": 1234,
        "graph_hash": "sha256:" + "cd" * 32,
        "settings": {
            "steps": 4, "guidance": 5.0, "size": f"{SIZE}x{SIZE}", "num_frames": 24, "fps": FPS, "mode": "i2v",
            "adapters": ["film-grain"], "schedule": [[0.0, "a red kite"], [0.5, "a red kite over dunes"]],
            "blend": 0.25, "reference_use": "first_frame", "camera": "pan_right", "camera_mode": "noise",
        },
    }


def test_the_created_action_links_the_reference_picture_and_only_it(signed):
    signed, anchor = signed
    manifest, results, _ = read(signed.path, anchor)
    created = assertions(manifest)["c2pa.actions.v2"]["actions"][0]
    links = created["parameters"]["ingredients"]
    by_label = {ing["label"]: ing for ing in manifest["ingredients"]}
    assert len(links) == 1
    url = links[0]["url"]
    assert url.startswith("self#jumbf=c2pa.assertions/") and base64.b64decode(links[0]["hash"])
    linked = by_label[url.rsplit("/", 1)[1]]
    assert (linked["title"], linked["relationship"], linked["format"]) == ("kite.png", "inputTo", "image/png")
    # c2pa checked the link's hash against the ingredient assertion it names
    matched = {s["url"].rsplit("/", 1)[1] for s in results["activeManifest"]["success"]
               if s["code"] == "assertion.hashedURI.match"}
    assert linked["label"] in matched


def test_the_ingredients_are_the_picture_and_the_sound(signed):
    signed, anchor = signed
    manifest, _, _ = read(signed.path, anchor)
    found = sorted((i["title"], i["relationship"], i["format"]) for i in manifest["ingredients"])
    assert found == [("kite.png", "inputTo", "image/png"), ("music.wav", "componentOf", "audio/wav")]
    picture = next(i for i in manifest["ingredients"] if i["title"] == "kite.png")
    assert picture["thumbnail"]["format"] == "image/jpeg"


def test_the_watermarked_action_and_soft_binding_say_what_the_pixels_carry(signed):
    signed, anchor = signed
    manifest, _, _ = read(signed.path, anchor)
    marked = assertions(manifest)["c2pa.actions.v2"]["actions"][1]
    assert marked["action"] == "c2pa.watermarked"
    assert marked["softwareAgent"] == {"name": "Studio", "version": __version__}
    assert "watermark" in marked["parameters"]["description"]
    binding = assertions(manifest)["c2pa.soft-binding"]
    assert binding["alg"] == SOFT_BINDING_ALG and len(binding["blocks"]) == 1
    block = binding["blocks"][0]
    payload = base64.b64decode(block["value"])
    instance = uuid.UUID(signed.instance_id.removeprefix("xmp:iid:"))
    assert block["scope"] == {} and payload == instance.bytes[:4] == bytes.fromhex(signed.watermark_payload)
    with av.open(str(signed.path)) as container:
        pixels = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    found = wm.detect(np.stack(pixels))
    assert found.found and found.payload == payload


def test_without_a_watermark_the_manifest_claims_none_and_verify_matches_nothing(tmp_path, frames):
    video = Video(frames, FPS, made(None))
    result = export_video(video, tmp_path / "plain.mp4", options=ExportOptions(watermark=False))
    manifest, _, state = read(result.path)
    assert state == "Trusted" and result.watermark_payload is None
    assert [a["action"] for a in assertions(manifest)["c2pa.actions.v2"]["actions"]] == ["c2pa.created"]
    assert "c2pa.soft-binding" not in assertions(manifest) and not manifest.get("ingredients")
    assert "ingredients" not in assertions(manifest)["c2pa.actions.v2"]["actions"][0]["parameters"]
    report = verify_file(result.path, ["local"])
    assert report.ok and not report.watermark.found and report.watermark.payload is None
    assert report.watermark.matches_manifest is None
    assert watermark_line(report) == "no watermark (read 24 frames)"


# ---- verify must never report a match it has not seen


def watermark_line(report) -> str:
    lines = [line for line in report.to_text().splitlines() if line.startswith("Watermark:")]
    assert len(lines) == 1
    return lines[0].removeprefix("Watermark:").strip()


def other_marked(tmp_path, frames, payload: bytes, key: int = wm.DEFAULT_KEY):
    """An unsigned clip carrying ``payload`` under ``key``, marked the way an export marks (the Y plane)."""
    path = tmp_path / f"marked-{payload.hex()}-{key:x}.mp4"
    embedder = wm.Embedder(payload, SIZE, SIZE, key=key)
    encode_video(frames, FPS, path, mark=embedder.mark_i420)
    return path


def signed_claiming(tmp_path, source, payload: bytes):
    """``source`` signed with a manifest whose soft binding says ``payload``, whatever its pixels carry."""
    dest = tmp_path / ("claims-" + source.name)
    provenance = Provenance.from_generation(made(None))
    sign_mp4(source, dest, provenance, local_identity(), instance_id=f"xmp:iid:{uuid.uuid4()}",
             watermark_payload=payload)
    return dest


OURS, THEIRS = bytes.fromhex("5eed1234"), bytes.fromhex("0badf00d")


def test_someone_elses_payload_is_read_but_matches_no_manifest(tmp_path, frames):
    report = verify_file(other_marked(tmp_path, frames, THEIRS), ["local"])
    assert report.verdict == "no Content Credentials"
    assert report.watermark.found and report.watermark.payload == THEIRS.hex()
    assert report.watermark.matches_manifest is None and "match" not in watermark_line(report)


def test_a_watermark_under_someone_elses_key_is_not_ours(tmp_path, frames):
    clip = other_marked(tmp_path, frames, OURS, key=0x1234_5678)
    report = verify_file(signed_claiming(tmp_path, clip, OURS), ["local"])
    assert report.ok  # the credentials are fine; the pixels do not carry what they claim
    assert not report.watermark.found and report.watermark.payload is None
    assert report.watermark.matches_manifest is False
    assert watermark_line(report).endswith("DOES NOT match the manifest (read 24 frames)")


def test_a_watermark_that_disagrees_with_the_manifest_is_reported_as_such(tmp_path, frames):
    clip = other_marked(tmp_path, frames, THEIRS)
    report = verify_file(signed_claiming(tmp_path, clip, OURS), ["local"])
    assert report.ok and report.watermark.found and report.watermark.payload == THEIRS.hex()
    assert report.watermark.matches_manifest is False
    assert watermark_line(report).endswith("DOES NOT match the manifest (read 24 frames)")
    assert "WATERMARK does not match the manifest" in report.verdict  # the first line says so, not only below
    # the same pixels under a manifest that claims what they carry: now, and only now, a match
    agreeing = verify_file(signed_claiming(tmp_path, clip, THEIRS), ["local"])
    assert agreeing.watermark.matches_manifest is True and "WATERMARK" not in agreeing.verdict
    assert watermark_line(agreeing).endswith(", matches the manifest (read 24 frames)")


def test_an_unmarked_clip_under_a_manifest_that_claims_a_watermark_does_not_match(tmp_path, frames):
    clip = tmp_path / "clean.mp4"
    encode_video(frames, FPS, clip)
    report = verify_file(signed_claiming(tmp_path, clip, OURS), ["local"])
    assert report.ok and not report.watermark.found
    assert report.watermark.matches_manifest is False
    assert watermark_line(report) == "no watermark, DOES NOT match the manifest (read 24 frames)"
    assert report.verdict.startswith("valid") and "WATERMARK does not match" in report.verdict


# ---- verify's verdict on credentials that do not hold


def top_level_box(data: bytes, kind: bytes) -> tuple[int, int]:
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == kind:
            return pos, size
        pos += max(size, 8)
    raise AssertionError(f"no {kind!r} box")


def test_a_changed_picture_leaves_the_signature_valid_but_not_the_credentials(signed, tmp_path):
    signed, _ = signed
    data = bytearray(signed.path.read_bytes())
    start, size = mdat_offset(signed.path)
    data[start + size // 2] ^= 0xFF
    changed = tmp_path / "changed.mp4"
    changed.write_bytes(data)
    report = verify_file(changed, ["local"], check_watermark=False)
    assert report.has_manifest and report.tampered and report.signature_valid is True
    assert not report.valid and not report.ok and report.verdict.startswith("TAMPERED")


def test_a_manifest_that_cannot_be_parsed_is_said_so_not_taken_for_none(signed, tmp_path):
    signed, _ = signed
    data = bytearray(signed.path.read_bytes())
    start, _ = top_level_box(bytes(data), b"uuid")  # the C2PA manifest store
    data[start + 40 : start + 56] = bytes(b ^ 0x5A for b in data[start + 40 : start + 56])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data)
    report = verify_file(broken, ["local"], check_watermark=False)
    assert not report.has_manifest and not report.ok
    assert report.error is not None and report.error.startswith("the manifest cannot be read: ")
    assert report.verdict.startswith("cannot be read: the manifest cannot be read")

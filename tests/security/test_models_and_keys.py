"""Model folders that would run code, the signing CA's key, and cancelling a model load, with the real parts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.errors import Cancelled, ModelError
from studio.runtime import list_models, load_model
from studio.runtime.tiny import build_tiny_pipeline

ESC = "\x1b"
MARKER = "CUSTOM_CODE_RAN"
# Importing any of these writes a marker file next to itself: proof that Studio never ran them.
EVIL_CODE = (
    "from pathlib import Path\n"
    f"(Path(__file__).parent / {MARKER!r}).write_text('ran')\n"
    "class MyTransformer: pass\nclass EvilModel: pass\nclass WanPipeline: pass\n"
)


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    return build_tiny_pipeline("wan", tmp_path_factory.mktemp("models") / "tiny-wan")


def _copy(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _pickle_only(folder: Path) -> None:
    """Every component's weights as real pickles (.ckpt, .bin, .pt), the safetensors gone."""
    from safetensors.torch import load_file

    for component, name in (("text_encoder", "model.ckpt"), ("transformer", "diffusion_pytorch_model.bin"),
                            ("vae", "diffusion_pytorch_model.pt")):
        for weights in (folder / component).glob("*.safetensors"):
            torch.save(load_file(weights), folder / component / name)
            weights.unlink()


def _custom_component(folder: Path) -> None:
    _edit_json(folder / "model_index.json", lambda d: d.update(transformer=["my_transformer", "MyTransformer"]))
    (folder / "transformer" / "my_transformer.py").write_text(EVIL_CODE)


def _auto_map(folder: Path) -> None:
    _edit_json(folder / "text_encoder" / "config.json",
               lambda d: d.update(auto_map={"AutoModel": "modeling_evil.EvilModel"}))
    (folder / "text_encoder" / "modeling_evil.py").write_text(EVIL_CODE)


def _custom_pipeline(folder: Path) -> None:
    _edit_json(folder / "model_index.json", lambda d: d.update(_class_name=["pipeline_evil", "WanPipeline"]))
    (folder / "pipeline_evil.py").write_text(EVIL_CODE)


HOSTILE = {
    "pickled": (_pickle_only, r"component 'text_encoder' has only pickle weights \(model\.ckpt\), which can run "
                              r"code when loaded \(convert the weights to safetensors"),
    "custom-component": (_custom_component, r"component 'transformer' needs code from 'my_transformer' "
                                            r"\(transformer/my_transformer\.py\), which Studio does not run"),
    "auto-map": (_auto_map, r"component 'text_encoder' asks for custom code \(auto_map in "
                            r"text_encoder/config\.json\), which Studio does not run"),
    "custom-pipeline": (_custom_pipeline, r"the pipeline is custom code \(pipeline_evil\.py\), which Studio "
                                          r"does not run"),
}


@pytest.fixture(scope="module")
def collection(tiny_wan, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("collection")
    _copy(tiny_wan, root / "good")
    for name, (make, _reason) in HOSTILE.items():
        make(_copy(tiny_wan, root / name))
    return root


def test_models_with_pickle_weights_or_custom_code_are_listed_as_refused(collection):
    found = {m.name: m for m in list_models([collection]) if m.kind == "folder"}
    assert set(found) == {"good", *HOSTILE}
    assert found["good"].refused == ""
    for name, (_make, reason) in HOSTILE.items():
        assert found[name].family == "wan"
        assert found[name].refused, name
        assert re.search(reason, found[name].refused), (name, found[name].refused)
        # Loading refuses for the same reason, and none of the model's own code ever ran.
        with pytest.raises(ModelError, match=reason):
            load_model(str(collection / name))
    assert not list(collection.rglob(MARKER))


def test_cli_models_marks_refused_folders_with_the_reason(capsys, collection):
    assert main(["models", str(collection)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    good = next(line for line in lines if line.startswith("good  "))
    assert "REFUSED" not in good and "family=wan" in good
    for name in HOSTILE:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}  "))
        assert lines[index].endswith("REFUSED")
        assert lines[index + 1].startswith("    refused: ")
    assert "    refused: component 'text_encoder' has only pickle weights (model.ckpt)" in out
    assert f"{len(HOSTILE)} of " in lines[-1] and "refused" in lines[-1]


def test_cli_models_escapes_folder_names(capsys, tiny_wan, tmp_path):
    _copy(tiny_wan, tmp_path / ("evil" + ESC + "[2J" + ESC + "]0;owned\x07"))
    assert main(["models", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ESC not in out and "\x07" not in out
    assert "evil\\x1b[2J\\x1b]0;owned\\x07  " in out


# ---- the local signing CA ----------------------------------------------------------------------------


def _tiny_mp4(path: Path) -> Path:
    from studio.media.encode import encode_video

    encode_video(np.zeros((2, 32, 32, 3), np.uint8), 8, path)
    return path


SIGN_IN_A_FRESH_PROCESS = """
import sys
from pathlib import Path
import c2pa
from studio.media.provenance import Provenance, offline_context, sign_mp4
from studio.media.signing import local_identity

identity = local_identity(create=False)
source, destination = Path(sys.argv[1]), Path(sys.argv[2])
sign_mp4(source, destination, Provenance(model_name="tiny", prompts=["a cat"]), identity,
         instance_id="xmp:iid:fresh", watermark_payload=None)
with open(destination, "rb") as fh, c2pa.Reader("video/mp4", fh, context=offline_context(
        identity.anchor_pem.decode())) as reader:
    print(reader.get_validation_state())
"""


def test_the_ca_private_key_never_reaches_disk_and_signing_works_in_a_fresh_process(tmp_path, studio_home):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from studio.media.signing import local_identity, signing_dir

    identity = local_identity()
    folder = signing_dir()
    assert sorted(p.name for p in folder.iterdir()) == ["ca.cert.pem", "signer.chain.pem", "signer.key.pem"]
    holding_keys = [p.name for p in folder.iterdir() if b"PRIVATE KEY" in p.read_bytes()]
    assert holding_keys == ["signer.key.pem"]
    # The one key on disk is the signer's, not the CA's.
    key = serialization.load_pem_private_key((folder / "signer.key.pem").read_bytes(), None)
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ca = x509.load_pem_x509_certificate(identity.anchor_pem)
    assert key.public_key().public_bytes(*der) == identity.leaf.public_key().public_bytes(*der)
    assert key.public_key().public_bytes(*der) != ca.public_key().public_bytes(*der)

    source = _tiny_mp4(tmp_path / "clip.mp4")
    env = dict(os.environ, STUDIO_HOME=str(studio_home))
    done = subprocess.run(
        [sys.executable, "-c", SIGN_IN_A_FRESH_PROCESS, str(source), str(tmp_path / "signed.mp4")],
        capture_output=True, text=True, env=env, timeout=120, cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Trusted"
    assert not (folder / "ca.key.pem").exists()


def test_a_ca_key_left_by_an_earlier_version_is_removed():
    from studio.media.signing import local_identity, signing_dir

    first = local_identity()
    stale = signing_dir() / "ca.key.pem"
    stale.write_bytes(b"-----BEGIN PRIVATE KEY-----\nold\n-----END PRIVATE KEY-----\n")
    assert local_identity().chain_pem == first.chain_pem
    assert not stale.exists()


# ---- cancelling a model load ------------------------------------------------------------------------


def test_cancel_during_a_load_stops_after_the_component_in_progress(tiny_wan):
    """The cancel arrives while the text encoder loads: the load ends there, the VAE and the transformer
    are never read, and the call returns in the time of that one component."""
    heard: list[str] = []
    cancelled_at: list[float] = []

    def progress(done: int, total: int, message: str) -> None:
        heard.append(message)
        if message == "loading text_encoder":
            cancelled_at.append(time.perf_counter())

    with pytest.raises(Cancelled):
        load_model(str(tiny_wan), is_cancelled=lambda: bool(cancelled_at), on_progress=progress)
    returned = time.perf_counter()
    assert heard[-1] == "loading text_encoder"
    assert "loading vae" not in heard and "loading transformer" not in heard
    assert returned - cancelled_at[0] < 2.0


def test_cancel_from_the_engine_reaches_the_load_model_node(tiny_wan, tmp_path):
    from studio.engine import Engine, NodeProgress
    from studio.engine.engine import CancelToken
    from studio.graph import Graph, NodeRegistry

    registry = NodeRegistry.default()
    graph = Graph()
    graph.add_node(registry.get("studio.LoadModel"), "model", params={"source": str(tiny_wan), "device": "cpu"})
    token = CancelToken()
    heard: list[str] = []
    cancelled_at: list[float] = []

    def listener(event) -> None:
        if isinstance(event, NodeProgress):
            heard.append(event.message)
            if event.message == "loading text_encoder":
                cancelled_at.append(time.perf_counter())
                token.cancel()  # what the editor's Stop button and Ctrl+C in `studio render` do

    result = Engine(registry).run(graph, ["model"], listener=listener, cancel=token, base_dir=tmp_path)
    returned = time.perf_counter()
    assert result.status == "cancelled"
    assert heard[-1] == "loading text_encoder" and "loading transformer" not in heard
    assert returned - cancelled_at[0] < 2.0


@pytest.mark.parametrize("name, data", [
    ("style.safetensors", (2**60).to_bytes(8, "little") + b"{"),  # a header claiming an exabyte
    ("style.safetensors", (12).to_bytes(8, "little") + b"not json!!!!"),
    ("style.safetensors", b""),
    ("tiny.gguf", b"GGUF" + b"\xff" * 60),  # the magic, then nonsense counts
    ("tiny.gguf", b"PK\x03\x04 a zip named gguf"),
])
def test_a_strangers_lora_or_gguf_file_fails_its_node_with_a_sentence(tiny_wan, tmp_path, name, data):
    """A shared graph names files beside it: malformed ones fail Load Model, naming the file, before any
    weights load; nothing huge is allocated and no traceback reaches the person."""
    from studio.engine import Engine
    from studio.graph import NodeRegistry
    from tests.graphs import text_to_video

    (tmp_path / name).write_bytes(data)
    registry = NodeRegistry.default()
    graph = text_to_video(registry, tiny_wan, preview=False)
    if name.endswith(".gguf"):
        graph.set_param("model", "transformer_file", name)
    else:
        graph.set_param("model", "loras", [{"file": name, "strength": 1}])
    result = Engine(registry).run(graph, base_dir=tmp_path)
    assert not result.ok and "model" in result.failed
    message = result.failed["model"]
    assert name in message and "Traceback" not in message

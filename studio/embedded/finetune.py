"""Teaches the shipped embedded model the richer world on a CPU: its transformer and text encoder fine-tuned from
their weights on camera moves, two objects and textured backgrounds, the VAE (and so the preview decoder) kept.

python -m studio.embedded.finetune --model resources/models/studio-tiny --out RUN [--clips 8000]
    [--dit-steps 3000] [--dit-minutes 90] [--dit-batch 32] [--dit-lr 3e-4] [--resume] [--stages ...]

Why a fine-tune and not ``full_train``: the whole recipe needs a GPU (about 1.2M clip samples), and none is lent.
The shipped model already draws the first world well, and the richer world's captions extend its words (old
token ids stay put, ``scenes.py``), so what is new is a few words and the motions they name. Starting from the
shipped weights keeps what it knows (the base condition stays 40% of the clips) and spends the CPU on the new.

Stages, each resumable in RUN (``full_train``'s layout, so its ``dit`` and ``export`` code runs unchanged):

* ``prepare``  sizes.json, vae_final.json (the shipped VAE, unchanged), dit.json at step 0: the shipped
               transformer and text encoder (and their EMA copies), the text encoder's embedding grown by the
               new words (new rows drawn at the old rows' scale: nothing in the old rows moves);
* ``vae``      the shipped VAE fine-tuned on richer-world single frames (``--vae-steps``, 0 skips it): texture
               edges weighted (``vae_training.vae_loss``), so it learns to draw the textures a camera move is seen
               by, while frames of the first world keep the shipped encoder's latents (the transformer's
               knowledge stays valid). Single frames keep it per-frame, as the shipped one is. Off by default:
               1,000 steps drew camera clips' checks far closer to the truth (mean error 35 -> 15, 0-255) but
               the first world's clips worse (3.3 -> 7.7, with texture on plain backgrounds), while the shipped
               VAE already carries the world's 40-px checks well enough to read 12/12 camera moves;
* ``latents``  richer-world clips (``scenes.scene_for_seed``) encoded with that VAE, normalised with the
               shipped VAE's own latents_mean/std (new statistics would shift every latent the transformer
               knows);
* ``dit``      ``dit_training.train_dit`` from that step 0, at a fine-tuning learning rate;
* ``export``   RUN/pipeline via ``full_train.export``, plus the shipped preview decoder (fitted to this VAE).

Then measure and gate as the GPU script does:
    python -m studio.embedded.scene_evaluate RUN/pipeline --count 16 --json RUN/eval.json
    python -m studio.embedded.install_gate RUN/eval.json RUN/pipeline
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from studio.embedded import components as C
from studio.embedded import full_train as F
from studio.embedded import scenes as S
from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint, load_latent_parts, save_checkpoint
from studio.embedded.runs import clipped_step, cosine_factor, log, open_run
from studio.embedded.world import train_seed

STAGES = ("prepare", "vae", "latents", "dit", "export")
VAE_SEEDS = 700_000  # frame seeds of the VAE stage, apart from the latent cache's and full_train's
CHUNK = 500  # clips per latent part (a part is the unit a resumed run skips)


def _vae_state(model: Path) -> tuple[C.ModelSizes, dict, list[float], list[float]]:
    from diffusers import AutoencoderKLWan

    sizes = C.ModelSizes(**json.loads((model / "studio_sizes.json").read_text()))
    vae = AutoencoderKLWan.from_pretrained(model / "vae")
    return sizes, vae.state_dict(), list(vae.config.latents_mean), list(vae.config.latents_std)


def grown_text_encoder_state(old: dict, new_vocab: int, seed: int) -> dict:
    """The old text encoder's state with its (tied) token embedding grown to ``new_vocab`` rows: old rows kept,
    new rows random at the old rows' standard deviation."""
    state = dict(old)
    keys = [k for k, v in old.items() if k.endswith("embed_tokens.weight") or k == "shared.weight"]
    rows = None
    for key in keys:  # one tensor under two names (tied): the same new rows for both
        table = old[key]
        extra = new_vocab - table.shape[0]
        if extra < 0:
            raise ValueError(f"{key}: the new vocabulary ({new_vocab}) is smaller than the old ({table.shape[0]})")
        if rows is None:
            generator = torch.Generator().manual_seed(seed)
            rows = (torch.randn(extra, table.shape[1], generator=generator) * table.std()).to(table.dtype)
        state[key] = torch.cat([table, rows])
    return state


def prepare(args: argparse.Namespace, out: Path) -> None:
    if exists(out / "dit.json"):
        return
    from diffusers import WanTransformer3DModel
    from transformers import UMT5EncoderModel

    sizes, vae_state, _, _ = _vae_state(args.model)
    (out / "sizes.json").write_text(json.dumps(sizes.to_dict(), indent=2) + "\n")
    save_checkpoint({"model": vae_state, "step": 0}, out / "vae_final.json")
    tokenizer = C.build_tokenizer(args.words)
    old_words = json.loads((args.model / "studio_vocabulary.json").read_text())["words"]
    if args.words[: len(old_words)] != old_words:
        raise SystemExit("the richer world's words must extend the shipped model's in order (token ids stay put)")
    transformer = WanTransformer3DModel.from_pretrained(args.model / "transformer")
    old_text = UMT5EncoderModel.from_pretrained(args.model / "text_encoder")
    text_encoder = C.build_text_encoder(sizes, len(tokenizer))
    text_encoder.load_state_dict(grown_text_encoder_state(old_text.state_dict(), len(tokenizer), args.seed))
    params = list(transformer.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.dit_lr, weight_decay=0.01)
    save_checkpoint({"transformer": transformer.state_dict(), "text_encoder": text_encoder.state_dict(),
                     "ema_transformer": transformer.state_dict(), "ema_text_encoder": text_encoder.state_dict(),
                     "optimizer": optimizer.state_dict(), "step": 0, "sizes": sizes.to_dict()}, out / "dit.json")
    log(out, f"prepare: {args.model} at step 0, vocabulary {len(old_words) + 2} -> {len(tokenizer)} tokens")


def tune_vae(args: argparse.Namespace, out: Path) -> None:
    import copy
    import random

    import numpy as np

    done = out / "vae_texture.json"
    if exists(done) or args.vae_steps <= 0:
        return
    sizes = F.load_sizes(out)
    V.enable_fast_single_frames()
    vae = F.final_vae(out, sizes, torch.device("cpu"), "vae_final.json")  # the shipped VAE (prepare)
    shipped = copy.deepcopy(vae).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    step = 0
    if exists(out / "vae_tune.json"):  # a resumed stage: vae_final.json is still the shipped VAE until it ends
        state = load_checkpoint(out / "vae_tune.json")
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])

    def save() -> None:
        save_checkpoint({"model": vae.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                        out / "vae_tune.json")

    started, running = time.time(), 0.0
    vae.train()
    while step < args.vae_steps:
        rng = random.Random(args.seed * 7919 + step)
        specs = [S.scene_for_seed(train_seed(VAE_SEEDS + step * args.vae_batch + i, args.seed))
                 for i in range(args.vae_batch)]
        drawn = [S.render_scene_frame(spec, rng.randrange(F.FRAMES), F.FRAMES, args.size) for spec in specs]
        x = V.to_tensor(np.stack([image[None] for image, _ in drawn]))
        cover = torch.from_numpy(np.stack([c[None] for _, c in drawn]))[:, None]
        first_world = torch.tensor([spec.condition == "base" for spec in specs])
        with torch.no_grad():
            held = V.encode_mean(shipped, x[first_world])[0] if first_world.any() else None
        for group in optimizer.param_groups:
            group["lr"] = args.vae_lr * cosine_factor(step / args.vae_steps)
        loss, parts = V.vae_loss(vae, x, cover, keep=(first_world, held) if held is not None else None)
        clipped_step(optimizer, loss, vae.parameters())
        step += 1
        running += parts["mse"]
        if step % 50 == 0:
            log(out, f"vae step {step} mse {running / 50:.4f} held {parts.get('held', 0.0):.5f} "
                     f"{(time.time() - started) / 50:.2f} s/step")
            running, started = 0.0, time.time()
        if step % args.save_every == 0:
            save()
    save()
    # vae_final.json is what the later stages (latents, export) read as this run's VAE; the shipped one is kept.
    save_checkpoint({"model": shipped.state_dict(), "step": 0}, out / "vae_shipped.json")
    save_checkpoint({"model": vae.eval().state_dict(), "step": step}, out / "vae_final.json")
    save_checkpoint({"step": step}, done)
    log(out, f"vae: fine-tuned {step} steps on textured frames, first-world latents held")


@torch.no_grad()
def cache_latents(args: argparse.Namespace, out: Path) -> None:
    target = out / "latents.json"
    if exists(target):
        return
    vae = F.final_vae(out, F.load_sizes(out), torch.device("cpu"), "vae_final.json").eval()
    # The runtime encodes whole clips; this VAE's encoder is per-frame (latent frame k is frame 4k alone), so the
    # key frames encoded one by one give the same numbers (1e-6) at a third of the cost.
    parts = out / "latent_parts"
    parts.mkdir(exist_ok=True)
    started = time.time()
    for first in range(0, args.clips, CHUNK):
        part = parts / f"{first:07d}.json"
        if exists(part):
            continue
        seeds = [train_seed(F.LATENT_SEEDS + i, args.seed) for i in range(first, min(first + CHUNK, args.clips))]
        means, captions = [], []
        for k in range(0, len(seeds), 25):
            frames, texts = F.key_frames((seeds[k:k + 25], args.size))
            means.append(F.encode_key_frames(vae, V.to_tensor(frames)))
            captions += texts
        save_checkpoint({"latents": torch.cat(means), "captions": captions}, part)
        log(out, f"latents: {first + len(seeds)}/{args.clips} clips, {time.time() - started:.0f} s")
    latents, captions = load_latent_parts(parts)
    conditions = [S.scene_for_seed(train_seed(F.LATENT_SEEDS + i, args.seed)).condition for i in range(len(captions))]
    index = mixed_indices(conditions, args.mix)
    _, _, mean, std = _vae_state(args.model)
    save_checkpoint({"latents": latents[index], "captions": [captions[i] for i in index],
                     "mean": torch.tensor(mean), "std": torch.tensor(std)}, target)
    counts = {c: sum(conditions[i] == c for i in index) for c in S.CONDITIONS}
    log(out, f"latents: {len(index)} training entries from {len(captions)} clips ({counts}), normalised by the "
             "shipped VAE's statistics")


def parse_mix(text: str) -> dict[str, int]:
    """"camera=0,two_objects=2" -> {condition: times each clip of it is used}; unnamed conditions stay at 1."""
    mix = dict.fromkeys(S.CONDITIONS, 1)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, times = item.partition("=")
        if name not in mix or not times.isdigit():
            raise SystemExit(f"--mix: {item!r} is not CONDITION=TIMES with a condition of {', '.join(S.CONDITIONS)}")
        mix[name] = int(times)
    return mix


def mixed_indices(conditions: list[str], mix: dict[str, int]) -> list[int]:
    """Each clip's index as many times as its condition's weight (0 drops it), in clip order."""
    return [i for i, condition in enumerate(conditions) for _ in range(mix[condition])]


def train(args: argparse.Namespace, out: Path) -> None:
    from studio.embedded import dit_training as D

    D.train_dit(args, out, F.load_sizes(out))


def export(args: argparse.Namespace, out: Path) -> Path:
    from studio.runtime.vocabulary import tokenizer_words, write_vocabulary

    folder = F.export(args, out, F.load_sizes(out))
    # Words left out of every training caption (a condition mixed at 0) have token ids but mean nothing: list
    # only the words it learned, so Studio warns when a prompt uses the others.
    old_words = json.loads((args.model / "studio_vocabulary.json").read_text())["words"]
    captions = load_checkpoint(out / "latents.json", keys=("captions",))["captions"]
    learned = set(old_words) | {w for caption in captions for w in caption.lower().split()}
    groups = {name: [w for w in words if w in learned] for name, words in S.vocabulary_groups().items()}
    write_vocabulary(folder, [w for w in tokenizer_words(folder) if w in learned],
                     {name: words for name, words in groups.items() if words},
                     "this folder's word-level tokenizer (the richer world's captions it was fine-tuned on)")
    # The shipped preview decoder fits the shipped VAE, and near enough a fine-tuned one whose first-world latents
    # were held (refit it with preview_training before installing).
    if (args.model / "preview_decoder").is_dir():
        shutil.rmtree(folder / "preview_decoder", ignore_errors=True)
        shutil.copytree(args.model / "preview_decoder", folder / "preview_decoder")
    return folder


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("resources/models/studio-tiny"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--clips", type=int, default=8000, help="richer-world clips in the latent cache")
    p.add_argument("--mix", default="", help="CONDITION=TIMES,... each clip of a condition used TIMES times "
                   "(0: left out; e.g. camera=0 while the VAE cannot draw the textures a camera move needs)")
    p.add_argument("--vae-steps", type=int, default=0, help="VAE fine-tune steps on textured frames (0: the "
                   "shipped VAE as it is)")
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-lr", type=float, default=3e-4)
    p.add_argument("--dit-steps", type=int, default=3000)
    p.add_argument("--dit-minutes", type=float, default=0.0, help="time budget of this call's dit stage")
    p.add_argument("--dit-batch", type=int, default=32)
    p.add_argument("--dit-lr", type=float, default=3e-4)
    p.add_argument("--dit-schedule", choices=("constant", "cosine"), default="cosine")
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--projection-clips", type=int, default=96)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.words, args.size, args.mix = S.vocabulary(), 64, parse_mix(args.mix)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = open_run(args.out, args.resume)
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}: choose from {', '.join(STAGES)}")
    runners = {"prepare": prepare, "vae": tune_vae, "latents": cache_latents, "dit": train, "export": export}
    for stage in STAGES:
        if stage in wanted:
            started = time.time()
            runners[stage](args, out)
            log(out, f"{stage} finished in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()

"""The shot store on its own: an entry is the rendered spool renamed (never copied) with a sidecar, reads back as a
mapped array, a damaged entry is dropped with a warning (never read as a shot), the least recently used entries
go past the budget except those in use, names come from hex digests only, and shots join without a copy."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from studio.media.framestore_spool import join_spools, mapped
from studio.media.shot_store import ShotStore


def key(n: int) -> str:
    return hashlib.sha256(f"shot {n}".encode()).hexdigest()


def clip(count: int, h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, h, w, 3), dtype=np.uint8)


def put(store: ShotStore, n: int, frames: np.ndarray):
    spool = store.new_shot(*frames.shape[1:3])
    spool.append(frames)
    return store.put(key(n), spool, 8.0, {"prompt": f"shot {n}"})


def test_an_entry_is_the_rendered_file_renamed_and_reads_back_in_a_fresh_store(tmp_path):
    store = ShotStore(tmp_path)
    frames = clip(5)
    spool = store.new_shot(32, 32)
    spool.append(frames)
    temp = spool.path
    inode = os.stat(temp).st_ino
    kept = store.put(key(1), spool, 8.0, {"prompt": "a red circle"})
    assert not temp.exists() and os.stat(tmp_path / f"{key(1)}.frames").st_ino == inode  # renamed, not copied
    side = json.loads((tmp_path / f"{key(1)}.json").read_text())
    assert side["frames"] == 5 and side["stride"] == 4096 and side["parts"] == {"prompt": "a red circle"}
    kept.close()
    assert (tmp_path / f"{key(1)}.frames").exists()  # closing an entry's spool keeps the entry

    again = ShotStore(tmp_path).get(key(1), 32, 32)  # another process would see the same
    assert again is not None and len(again) == 5
    out = again.frames()
    assert mapped(out) is not None and not out.flags.writeable and np.array_equal(out, frames)
    assert np.array_equal(again.last(), frames[-1])
    assert ShotStore(tmp_path).get(key(2), 32, 32) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{key(1)}.frames", f"{key(1)}.json"])


@pytest.mark.parametrize("damage, words", [
    ("truncate", "holds 12288 bytes where 20480 were written"),
    ("grow", "holds 24576 bytes"),
    ("sidecar", "not JSON"),
    ("shape", "32x16 frames where 32x32"),
])
def test_a_damaged_entry_is_dropped_with_a_warning_never_read(tmp_path, damage, words):
    put(ShotStore(tmp_path), 1, clip(5)).close()
    data, side = tmp_path / f"{key(1)}.frames", tmp_path / f"{key(1)}.json"
    if damage == "truncate":  # a crash or a full disk cut the frames short
        os.truncate(data, 3 * 4096)
    elif damage == "grow":
        with data.open("ab") as handle:
            handle.write(b"\0" * 4096)
    elif damage == "sidecar":
        side.write_text(side.read_text()[:40])
    else:
        meta = json.loads(side.read_text())
        meta["height"] = 16
        side.write_text(json.dumps(meta))
    warnings = []
    assert ShotStore(tmp_path, warn=warnings.append).get(key(1), 32, 32) is None
    assert len(warnings) == 1 and words in warnings[0] and "renders again" in warnings[0], warnings
    assert not data.exists() and not side.exists()


def test_frames_without_a_sidecar_are_no_entry(tmp_path):
    """A crash between renaming the frames and writing the sidecar: the frames are never read as a shot."""
    store = ShotStore(tmp_path)
    spool = store.new_shot(32, 32)
    spool.append(clip(3))
    spool.rename(tmp_path / f"{key(1)}.frames")
    spool.close()
    assert store.get(key(1), 32, 32) is None and store.entries() == []


def test_the_least_recently_used_go_past_the_budget_but_not_those_in_use(tmp_path):
    entry = 5 * 4096
    store = ShotStore(tmp_path, budget_bytes=3 * entry + 3000)  # three entries and their sidecars
    for n in range(3):
        put(store, n, clip(5, seed=n)).close()
        os.utime(tmp_path / f"{key(n)}.frames", (1000 + n, 1000 + n))  # 0 used longest ago
    in_use = store.get(key(0), 32, 32)  # reading 0 makes it the most recent, and it is in use
    os.utime(tmp_path / f"{key(0)}.frames", (900, 900))  # as if read long ago: only "in use" keeps it now
    kept = put(store, 3, clip(5, seed=3))  # over budget: the oldest not in use (1) goes
    assert {k for k, _, _ in store.entries()} == {key(0), key(2), key(3)}
    assert store.size() <= store.budget()
    in_use.close()
    kept.close()
    assert store.enforce_budget() == []
    tight = ShotStore(tmp_path, budget_bytes=entry + 1000)  # one entry and its sidecar
    assert set(tight.enforce_budget()) == {key(0), key(2)}  # not in use any more: the oldest go first
    assert [k for k, _, _ in tight.entries()] == [key(3)]
    assert ShotStore(tmp_path).budget() <= 20 << 30  # the default: capped, and a fraction of the free disk


def test_names_come_from_hex_digests_only(tmp_path):
    store = ShotStore(tmp_path)
    for bad in ("../../etc/passwd", "a" * 63, "A" * 64, key(1) + "/x", ""):
        with pytest.raises(ValueError):
            store.get(bad, 32, 32)
    with pytest.raises(ValueError):
        store.remember("../rows", {})


def test_shots_join_into_one_clip_without_a_copy(tmp_path):
    store = ShotStore(tmp_path)
    a, b, c = clip(5, seed=1), clip(1, seed=2), clip(7, seed=3)
    spools = [put(store, n, frames) for n, frames in enumerate((a, b, c))]
    joined = join_spools(spools)
    assert joined is not None and np.array_equal(joined, np.concatenate([a, b, c]))
    assert mapped(joined) is not None and mapped(joined[6:9]) is not None
    for spool in spools:
        spool.close()
    for n in range(3):  # evicted (or deleted by hand) while the clip is on screen: the clip still reads
        (tmp_path / f"{key(n)}.frames").unlink()
    assert np.array_equal(joined[-1], c[-1])
    assert sum(f.stat().st_size for f in tmp_path.iterdir()) < 4096  # the clip itself took no disk

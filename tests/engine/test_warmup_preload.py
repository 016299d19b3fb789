"""torch's native libraries load without the GIL before its import, and the import then uses them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from studio import warmup

CHILD = """
import sys, threading, time
from studio import warmup
gaps, done = [], threading.Event()
def load():
    loaded[:] = warmup.preload_native(); done.set()
loaded = []
threading.Thread(target=load).start()
last = time.perf_counter()
while not done.is_set():
    time.sleep(0.002); now = time.perf_counter(); gaps.append(now - last); last = now
assert 'torch' not in sys.modules and len(loaded) == 2, loaded
import torch
maps = open('/proc/self/maps').read()
copies = {line.split()[-1] for line in maps.splitlines() if line.endswith('libtorch_cpu.so')}
assert copies == {loaded[-1]}, copies   # the import reused the copy loaded without the GIL
assert float(torch.ones(3).sum()) == 3.0
print(len(gaps))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="preloading is for Linux's dlopen")
def test_torch_native_libraries_load_first_and_the_import_reuses_them():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) > 10  # the main thread kept running while they loaded


def test_nothing_is_preloaded_for_a_package_already_imported_or_unknown():
    assert warmup.preload_native(("sys", "no_such_package_for_studio")) == []

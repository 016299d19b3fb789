"""The graph a clip carries in its credentials is data from a stranger: bounded to inflate, refused when odd,
and loaded like any graph file (data only, names checked, no code)."""

from __future__ import annotations

import base64
import random
import zlib

from studio.media.provenance import MAX_PACKED_GRAPH, MAX_UNPACKED_GRAPH, pack_graph, unpack_graph


def test_a_small_assertion_never_inflates_past_its_bound():
    bomb = base64.b64encode(zlib.compress(b"{" + b" " * (64 << 20), 9)).decode()  # 64 MB of spaces, tiny packed
    assert len(bomb) < 200_000
    assert unpack_graph(bomb) is None


def test_malformed_payloads_are_refused_not_raised():
    for packed in ("not base64 !!", base64.b64encode(b"not zlib").decode(), "",
                   base64.b64encode(zlib.compress("é".encode("latin-1"))).decode()):
        assert unpack_graph(packed) is None


def test_a_graph_round_trips_and_a_huge_one_stays_out_of_the_manifest():
    text = '{"format": "studio.graph", "version": 2, "nodes": [], "links": []}'
    assert unpack_graph(pack_graph(text)) == text
    noise = base64.b64encode(random.Random(1).randbytes(1 << 20)).decode()  # does not compress
    assert len(noise) > MAX_PACKED_GRAPH and pack_graph(noise) is None
    assert MAX_UNPACKED_GRAPH >= 4 << 20  # a graph of hundreds of nodes fits

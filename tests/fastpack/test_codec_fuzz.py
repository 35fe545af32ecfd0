"""Fuzz: mutated and truncated valid messages through both decoders.

Only DecodeError may escape, and the two implementations must agree on every input: both
reject it, or both return equal arrays and model specs. A fast local mutator does the bulk
(hypothesis would be far too slow for 100,000 cases in the normal run).
"""
import random
import struct

import numpy as np
import pytest

from fastpack import _codec_py
from fastpack.errors import DecodeError
from tests.fastpack.conftest import lfield, response, shape, varint, vfield

CASES = 100_000  # each decoded by both implementations: 200,000 decodes
LIMIT = 1 << 20  # keep forged shapes from asking for big (slow, not dangerous) arrays


def seed_messages():
    enc = _codec_py.encode_tensor
    rng = np.random.default_rng(3)
    spec = lfield(1, "inception") + lfield(2, vfield(1, 7)) + lfield(3, "serving_default")
    tensors = {
        "content_f32": enc(rng.standard_normal((1, 5)).astype("f4")),
        "content_i8": enc(np.arange(6, dtype="i1").reshape(2, 3)),
        "content_c16": enc(np.array([1 + 2j, 3 - 4j])),
        "content_bool": enc(np.array([True, False, True])),
        "scalar": enc(np.float64(2.5)),
        "strings": enc(np.array([b"cat", b"", b"dog"], dtype=object)),
        "empty": enc(np.zeros((2, 0), "f2")),
        "float_val": vfield(1, 1) + shape(1, 4) + lfield(5, struct.pack("<4f", 1, 2, 3, 4)),
        "float_unpacked": vfield(1, 1) + shape(3) + b"".join(b"\x2d" + struct.pack("<f", v) for v in (1, 2, 3)),
        "int64_val": vfield(1, 9) + shape(3) + lfield(10, varint(-1) + varint(300) + varint(5)),
        "int_unpacked": vfield(1, 3) + shape(2) + vfield(7, 9) + vfield(7, 1 << 40),
        "half_val": vfield(1, 19) + shape(2) + lfield(13, varint(0x3C00) + varint(0xC000)),
        "bool_val": vfield(1, 10) + shape(2) + lfield(11, b"\x01\x00"),
        "scomplex": vfield(1, 8) + shape(1) + lfield(9, struct.pack("<2f", 1, -1)),
        "uint64": vfield(1, 23) + shape(1) + lfield(17, varint((1 << 64) - 1)),
        "broadcast": vfield(1, 2) + shape(3, 3) + lfield(6, struct.pack("<d", 9.5)),
    }
    names = list(tensors)
    seeds = [response({n: tensors[n]}, spec) for n in names]
    seeds.append(response({n: tensors[n] for n in names[:6]}, spec))
    seeds.append(response({n: tensors[n] for n in names[6:]}, lfield(4, "canary")))
    return seeds, list(tensors.values())


def mutate(rnd: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randrange(7)
        n = len(buf)
        pos = rnd.randrange(n) if n else 0
        if op == 0 and n:
            buf[pos] ^= 1 << rnd.randrange(8)
        elif op == 1 and n:
            buf[pos] = rnd.choice((0x00, 0x7F, 0x80, 0xFF, rnd.randrange(256)))
        elif op == 2:
            del buf[rnd.randrange(n + 1):]
        elif op == 3:
            buf[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
        elif op == 4 and n:
            del buf[pos:pos + rnd.randint(1, 8)]
        elif op == 5 and n:
            end = min(n, pos + rnd.randint(1, 16))
            buf[pos:pos] = buf[pos:end]
        elif op == 6 and n:
            buf[pos:pos + 1] = b"\xff" * rnd.randint(1, 11)
    return bytes(buf)


def outcome(fn, data):
    try:
        return fn(data, max_bytes=LIMIT)
    except DecodeError as exc:
        return exc
    except Exception as exc:  # anything else is the bug this test hunts
        pytest.fail(f"{fn.__module__}.{fn.__name__} raised {exc!r} on {data!r}")


def same(a, b):
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return a.tolist() == b.tolist()
        return a.tobytes() == b.tobytes()  # bitwise: NaNs compare too
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_mutated_messages_only_raise_decode_error_and_both_agree(both_codecs):
    seeds, tensors = seed_messages()
    rnd = random.Random(20240611)
    rejected = 0
    for i in range(CASES):
        if i % 10 == 0:
            data = mutate(rnd, rnd.choice(tensors))
            results = [outcome(m.decode_tensor, data) for m in both_codecs]
        else:
            data = mutate(rnd, rnd.choice(seeds))
            results = [outcome(m.decode_predict_response, data) for m in both_codecs]
        first = results[0]
        rejected += isinstance(first, DecodeError)
        for other in results[1:]:
            if isinstance(first, DecodeError) or isinstance(other, DecodeError):
                assert type(first) is type(other), (data, first, other)
            else:
                assert same(first, other), data
    # The mutator must actually produce both kinds of input for the test to mean anything.
    assert CASES * 0.2 < rejected < CASES * 0.95


def test_every_truncation_of_every_seed(both_codecs):
    seeds, _ = seed_messages()
    for seed in seeds:
        for cut in range(len(seed)):
            for mod in both_codecs:
                outcome(mod.decode_predict_response, seed[:cut])

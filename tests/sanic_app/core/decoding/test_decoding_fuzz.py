"""Fuzz: mutated, truncated and forged image files through every decoding mode.

Hostile bytes must end as a clear InvalidArgument (400) or PayloadTooLarge (413), never another
exception, a hang or a crashed process (libjpeg-turbo runs in this process, as in a worker).
Bounded in count and in time.
"""
import random
import struct
import time

import numpy as np
import pytest
from PIL import Image

from sanic_app.core import imaging
from sanic_app.errors import InvalidArgument, PayloadTooLarge
from sanic_app.core.spec import ImageSpec
from tests.decoding_corpus import as_ycck, photo, save

pytestmark = pytest.mark.slow

CASES = 3000
SECONDS = 8.0
MAX_PIXELS = 4_000_000
SPECS = [ImageSpec(height=16, width=16), ImageSpec(height=16, width=16, color="grayscale"),
         ImageSpec(height=8, width=8, decode="accurate", reduced_dct=True, exif_orientation=True)]


def seeds() -> list[bytes]:
    img = Image.fromarray(photo(40, 56, seed=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    cmyk = save(img.convert("CMYK"), "JPEG")
    return [save(img, "JPEG", quality=80), save(img, "JPEG", progressive=True, subsampling=0),
            save(img, "JPEG", restart_marker_blocks=1, exif=exif.tobytes()), save(img.convert("L"), "JPEG"),
            cmyk, as_ycck(cmyk), save(img, "PNG"), save(img.quantize(16), "GIF")]


def forge_size(data: bytes, rnd: random.Random) -> bytes:
    """A JPEG whose frame header claims another size (bombs and zero sizes)."""
    at = data.find(b"\xff\xc0")
    if at < 0:
        at = data.find(b"\xff\xc2")
    if at < 0:
        return data
    h, w = rnd.choice([(0, 10), (65535, 65535), (1, 65000), (3000, 3000), (41, 57)])
    return data[:at + 5] + struct.pack(">HH", h, w) + data[at + 9:]


def mutate(rnd: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    kind = rnd.randrange(5)
    if kind == 0:  # flip a few bytes, mostly in the headers
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(min(len(buf), 600) if rnd.random() < 0.7 else len(buf))
            buf[i] = rnd.randrange(256)
    elif kind == 1:
        del buf[rnd.randrange(1, len(buf)):]
    elif kind == 2:
        i = rnd.randrange(len(buf))
        buf[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 32)))
    elif kind == 3:
        i, j = sorted(rnd.randrange(len(buf)) for _ in range(2))
        del buf[i:j]
    else:
        return forge_size(bytes(buf), rnd)
    return bytes(buf)


def test_hostile_bytes_are_clear_errors():
    rnd = random.Random(14)
    pool = seeds()
    outcomes = {"ok": 0, "400": 0, "413": 0}
    deadline = time.monotonic() + SECONDS
    for case in range(CASES):
        if time.monotonic() > deadline:
            break
        data = mutate(rnd, rnd.choice(pool))
        spec = SPECS[case % len(SPECS)]
        try:
            pixels = np.asarray(imaging.decode_image(data, spec, max_pixels=MAX_PIXELS))
            assert pixels.dtype == np.uint8 and pixels.ndim in (2, 3)
            outcomes["ok"] += 1
        except PayloadTooLarge:  # (a subclass of InvalidArgument: first)
            outcomes["413"] += 1
        except InvalidArgument as exc:
            assert "not a decodable image" in exc.message
            outcomes["400"] += 1
    print(f"{sum(outcomes.values())} cases: {outcomes}")
    assert outcomes["400"] > 100 and outcomes["413"] > 0 and outcomes["ok"] > 100  # all paths ran

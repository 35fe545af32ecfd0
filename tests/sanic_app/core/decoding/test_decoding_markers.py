"""JPEG header facts (Adobe marker, EXIF orientation) and the EXIF turn, without TensorFlow."""
import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageOps

from sanic_app.core.decoding import markers, orientation
from tests.decoding_corpus import photo, save, strip_adobe


def jpeg_with_orientation(value, **save_kw) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return save(Image.fromarray(photo(6, 10)), "JPEG", exif=exif.tobytes(), **save_kw)


@pytest.mark.parametrize("value", range(1, 9))
def test_orientation_is_read_from_exif(value):
    assert markers.scan(jpeg_with_orientation(value)).orientation == value


def test_big_endian_exif_and_bad_values():
    def exif(order, value, kind=3):
        fmt = "<" if order == b"II" else ">"
        entry = struct.pack(fmt + "HHI", 0x0112, kind, 1) + struct.pack(fmt + "H", value) + b"\0\0"
        return order + struct.pack(fmt + "HI", 42, 8) + struct.pack(fmt + "H", 1) + entry

    assert markers.exif_orientation(exif(b"MM", 6)) == 6
    assert markers.exif_orientation(exif(b"II", 3)) == 3
    assert markers.exif_orientation(exif(b"II", 9)) is None
    assert markers.exif_orientation(exif(b"II", 6, kind=4)) is None
    assert markers.exif_orientation(exif(b"II", 6)[:14]) is None  # IFD cut short
    assert markers.exif_orientation(b"XX" + bytes(20)) is None


def test_adobe_marker_and_defaults():
    cmyk = save(Image.fromarray(photo(8, 8)).convert("CMYK"), "JPEG")
    assert markers.scan(cmyk).adobe
    assert not markers.scan(strip_adobe(cmyk)).adobe
    plain = save(Image.fromarray(photo(8, 8)), "JPEG")
    assert markers.scan(plain) == markers.JpegMarkers(adobe=False, orientation=None, complete=True, scans=1)


def test_complete_means_an_eoi_after_the_first_scan():
    exif = Image.Exif()
    exif[0x0112] = 3
    data = save(Image.fromarray(photo(30, 40)), "JPEG", exif=exif.tobytes(), progressive=True)
    assert markers.scan(data).complete and markers.scan(data + b"trailing").complete
    assert markers.scan(data).scans == data.count(b"\xff\xda") > 5  # progressive: one per scan
    assert not markers.scan(data[:-2]).complete
    assert not markers.scan(data[:data.find(b"\xff\xda") + 2]).complete
    assert not markers.scan(data[:len(data) // 2]).complete


@pytest.mark.parametrize("data", [b"\xff\xd8", b"\xff\xd8\xff", b"\xff\xd8\xff\xe1\x00", b"\xff\xd8\xff\xe1\xff\xff",
                                  b"\xff\xd8\xff\xe1\x00\x02" * 5000, b"\xff\xd8" + b"\xff" * 100])
def test_malformed_headers_end_the_walk(data):
    assert markers.scan(data) == markers.JpegMarkers()


@pytest.mark.parametrize("value", range(1, 9))
def test_turn_equals_pillows_exif_transpose(value):
    pixels = photo(5, 9, seed=value)
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = value
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(save(img, "PNG", exif=exif.tobytes())))))
    got = orientation.apply(pixels, value)
    np.testing.assert_array_equal(got, want)
    assert got.flags.c_contiguous
    assert orientation.apply(pixels, None) is pixels

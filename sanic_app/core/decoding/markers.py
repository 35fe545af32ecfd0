"""What a JPEG's header segments say that libjpeg-turbo's simple API does not tell us.

Three facts, read by walking the marker segments from SOI up to the first SOS (never into the
entropy-coded data): whether an Adobe APP14 segment is present (TF's CMYK -> RGB rule depends on
it, as libjpeg's ``saw_Adobe_marker`` does), the EXIF orientation (APP1 "Exif", IFD0 tag
0x0112), and whether an EOI marker follows the first scan: TF refuses a JPEG whose data ends
before its EOI (its source manager errors when libjpeg asks for more), while libjpeg alone only
warns and fills in grey. Entropy-coded data cannot hold 0xFF 0xD9 (0xFF is stuffed as 0xFF 0x00)
and thumbnails sit before the first SOS, so an EOI after it is the image's own, and the SOS
markers after it count a progressive image's scans. Cheap: the EOI is looked for from the end,
and scans are counted (with numpy, bytes.count is slow on JPEG data) only in progressive files.
Untrusted bytes: every length is checked against what is left; anything malformed just ends the
walk (the decoder proper reports corrupt files).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_SOS, _EOI, _APP1, _APP14 = 0xDA, 0xD9, 0xE1, 0xEE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: no length field
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}  # SOF markers of progressive (multi-scan) images
_ORIENTATION_TAG = 0x0112
_MAX_SEGMENTS = 4096  # a header of tiny segments cannot keep a worker busy


@dataclass(frozen=True)
class JpegMarkers:
    adobe: bool = False
    orientation: int | None = None
    complete: bool = False  # a scan starts and an EOI follows it
    scans: int = 0  # SOS markers from the first scan on, counted in progressive files (else 1)


def scan(data: bytes) -> JpegMarkers:
    """The Adobe flag, EXIF orientation and completeness of a JPEG (defaults where absent or
    malformed; a header the walk cannot follow to its first scan is not complete)."""
    adobe, orientation, complete, scans, progressive = False, None, False, 0, False
    pos, end = 2, len(data)
    for _ in range(_MAX_SEGMENTS):
        pos = data.find(b"\xff", pos)  # libjpeg skips stray bytes before a marker (and warns)
        if pos < 0:
            break
        while pos < end and data[pos] == 0xFF:  # fill bytes before a marker code
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker == 0 or marker in _STANDALONE:  # a stray 0xFF 0x00, TEM, RSTn: no segment
            continue
        if marker == _SOS:
            complete = data.rfind(b"\xff\xd9") >= pos
            scans = 1 + _count_sos(data, pos) if progressive else 1
            break
        if marker == _EOI or pos + 2 > end:
            break
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > end:
            break
        if marker in _PROGRESSIVE:
            progressive = True
        elif marker == _APP14 and length >= 14 and data[pos + 2:pos + 7] == b"Adobe":
            adobe = True
        elif marker == _APP1 and orientation is None and data[pos + 2:pos + 8] == b"Exif\0\0":
            orientation = exif_orientation(data[pos + 8:pos + length])
        pos += length
    return JpegMarkers(adobe, orientation, complete, scans)


def _count_sos(data: bytes, start: int) -> int:
    """0xFF 0xDA pairs in ``data[start:]``."""
    rest = np.frombuffer(data, np.uint8, offset=start)
    after_ff = np.flatnonzero(rest[:-1] == 0xFF) + 1
    return int(np.count_nonzero(rest[after_ff] == 0xDA))


def exif_orientation(tiff: bytes) -> int | None:
    """Tag 0x0112 of IFD0 in a TIFF-structured EXIF block, if it holds 1..8."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    magic, ifd = struct.unpack_from(order + "HI", tiff, 2)
    if magic != 42 or ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for i in range(min(count, (len(tiff) - ifd - 2) // 12)):
        tag, kind, n = struct.unpack_from(order + "HHI", tiff, ifd + 2 + 12 * i)
        if tag == _ORIENTATION_TAG:
            if kind != 3 or n < 1:  # SHORT
                return None
            (value,) = struct.unpack_from(order + "H", tiff, ifd + 2 + 12 * i + 8)
            return value if 1 <= value <= 8 else None
    return None

"""What a JPEG's header segments say that libjpeg-turbo's simple API does not tell us.

Three facts, read by walking the marker segments from SOI up to the first SOS (never into the
entropy-coded data): whether an Adobe APP14 segment is present (TF's CMYK -> RGB rule depends on
it, as libjpeg's ``saw_Adobe_marker`` does), the EXIF orientation (APP1 "Exif", IFD0 tag
0x0112), and whether an EOI marker follows the first scan: TF refuses a JPEG whose data ends
before its EOI (its source manager errors when libjpeg asks for more), while libjpeg alone only
warns and fills in grey. Entropy-coded data cannot hold 0xFF 0xD9 (0xFF is stuffed as 0xFF 0x00)
and thumbnails sit before the first SOS, so an EOI after it is the image's own, and the SOS
markers after it count the image's scans. Untrusted bytes: every length is checked against what is left; anything malformed just
ends the walk (the decoder proper reports corrupt files).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

_SOS, _EOI, _APP1, _APP14 = 0xDA, 0xD9, 0xE1, 0xEE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: no length field
_ORIENTATION_TAG = 0x0112
_MAX_SEGMENTS = 4096  # a header of tiny segments cannot keep a worker busy


@dataclass(frozen=True)
class JpegMarkers:
    adobe: bool = False
    orientation: int | None = None
    complete: bool = False  # a scan starts and an EOI follows it
    scans: int = 0  # SOS markers from the first scan on (progressive files have several)


def scan(data: bytes) -> JpegMarkers:
    """The Adobe flag, EXIF orientation and completeness of a JPEG (defaults where absent or
    malformed; a header the walk cannot follow to its first scan is not complete)."""
    adobe, orientation, complete, scans = False, None, False, 0
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
            complete = data.find(b"\xff\xd9", pos) >= 0
            scans = 1 + data.count(b"\xff\xda", pos)
            break
        if marker == _EOI or pos + 2 > end:
            break
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > end:
            break
        body = data[pos + 2:pos + length]
        if marker == _APP14 and len(body) >= 12 and body[:5] == b"Adobe":
            adobe = True
        elif marker == _APP1 and orientation is None and body[:6] == b"Exif\0\0":
            orientation = exif_orientation(body[6:])
        pos += length
    return JpegMarkers(adobe, orientation, complete, scans)


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

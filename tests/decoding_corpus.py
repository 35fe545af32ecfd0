"""A generated corpus of encoded images for the decoder-against-TensorFlow tests.

Every kind of file a decoder treats differently: sizes from 1x1 up and odd sizes, every JPEG
chroma subsampling, progressive, restart markers, RGB-coded, grayscale, CMYK with and without an
Adobe marker, YCCK, EXIF orientations 1-8; PNGs of every colour type (palette with tRNS, 16-bit,
1-bit, alpha), GIF, BMP, WebP; truncated files. Built deterministically, in memory, in about a
second.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    fmt: str  # "jpeg", "png", "gif", "bmp", "webp"
    truncated: bool = False


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients with edges and noise: what makes IDCT choices show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    chans = [128 + 90 * np.sin(x / (3 + 2 * c) + rng.uniform(0, 6)) * np.cos(y / (4 + c)) for c in range(3)]
    pixels = np.stack(chans, axis=2) + rng.normal(0, 12, (height, width, 3))
    pixels[height // 3:height // 2, width // 4:width // 2] = (230, 30, 60)  # a hard-edged block
    return np.clip(pixels, 0, 255).astype(np.uint8)


def save(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def strip_adobe(jpeg: bytes) -> bytes:
    """The same JPEG without its APP14 "Adobe" segment (libjpeg then reads plain CMYK)."""
    at = jpeg.find(b"\xff\xee")
    length = struct.unpack(">H", jpeg[at + 2:at + 4])[0]
    return jpeg[:at] + jpeg[at + 2 + length:]


def as_ycck(cmyk_jpeg: bytes) -> bytes:
    """A CMYK JPEG relabelled YCCK (Adobe transform 2): libjpeg runs its YCC->RGB step on it."""
    at = cmyk_jpeg.find(b"\xff\xee")
    transform = at + 2 + 2 + 11  # marker, length, "Adobe", version(2), flags0(2), flags1(2)
    return cmyk_jpeg[:transform] + b"\x02" + cmyk_jpeg[transform + 1:]


def png16(pixels: np.ndarray) -> bytes:
    """A 16-bit PNG (gray (H, W) or RGB (H, W, 3)) written by hand: Pillow writes no 16-bit RGB."""
    height, width = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 2
    rows = pixels.reshape(height, -1).astype(">u2")
    raw = b"".join(b"\0" + row.tobytes() for row in rows)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def jpeg_samples() -> list[Sample]:
    out = []
    for h, w in [(1, 1), (2, 3), (7, 5), (17, 13), (33, 65), (64, 48), (121, 87)]:
        pixels = photo(h, w, seed=h * w)
        for sub, name in ((0, "444"), (1, "422"), (2, "420")):
            out.append(Sample(f"jpeg-{h}x{w}-{name}", save(Image.fromarray(pixels), "JPEG", quality=90,
                                                          subsampling=sub), "jpeg"))
    pixels = photo(75, 101, seed=3)
    for sub in ("440", "411"):
        out.append(Sample(f"jpeg-75x101-{sub}", simplejpeg.encode_jpeg(pixels, 85, colorsubsampling=sub), "jpeg"))
    img = Image.fromarray(pixels)
    out += [
        Sample("jpeg-progressive", save(img, "JPEG", quality=88, progressive=True), "jpeg"),
        Sample("jpeg-progressive-444", save(img, "JPEG", progressive=True, subsampling=0), "jpeg"),
        Sample("jpeg-restart-markers", save(img, "JPEG", quality=80, restart_marker_blocks=2), "jpeg"),
        Sample("jpeg-optimized-q30", save(img, "JPEG", quality=30, optimize=True), "jpeg"),
        Sample("jpeg-rgb-coded", save(img, "JPEG", quality=90, keep_rgb=True), "jpeg"),
        Sample("jpeg-gray", save(img.convert("L"), "JPEG", quality=90), "jpeg"),
        Sample("jpeg-gray-progressive", save(img.convert("L"), "JPEG", progressive=True), "jpeg"),
    ]
    cmyk = save(img.convert("CMYK"), "JPEG", quality=90)
    out += [Sample("jpeg-cmyk-adobe", cmyk, "jpeg"), Sample("jpeg-cmyk-plain", strip_adobe(cmyk), "jpeg"),
            Sample("jpeg-ycck", as_ycck(cmyk), "jpeg")]
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        out.append(Sample(f"jpeg-exif-{orientation}", save(Image.fromarray(photo(24, 40, orientation)), "JPEG",
                                                           exif=exif.tobytes()), "jpeg"))
    whole = save(img, "JPEG", quality=90)
    sos = whole.find(b"\xff\xda")
    middle = (sos + len(whole)) // 2
    out += [  # damaged but decodable: libjpeg warns, TF decodes
        Sample("jpeg-extraneous-bytes", whole[:sos] + b"\x00\x01\x02" + whole[sos:], "jpeg"),
        Sample("jpeg-corrupt-entropy", whole[:middle] + bytes(range(1, 41)) + whole[middle + 40:], "jpeg"),
        Sample("jpeg-trailing-bytes", whole + b"\x00" * 7 + b"trailer", "jpeg"),
    ]
    out += [Sample("jpeg-truncated-half", whole[:len(whole) // 2], "jpeg", truncated=True),
            Sample("jpeg-truncated-no-eoi", whole[:-2], "jpeg", truncated=True),
            Sample("jpeg-header-only", whole[:whole.find(b"\xff\xda") + 4], "jpeg", truncated=True)]
    return out


def other_samples() -> list[Sample]:
    pixels = photo(37, 53, seed=11)
    img = Image.fromarray(pixels)
    rgba = Image.fromarray(np.dstack([pixels, photo(37, 53, seed=12)[..., :1]]), "RGBA")
    palette = img.quantize(29)
    rng = np.random.default_rng(5)
    out = [
        Sample("png-rgb", save(img, "PNG"), "png"),
        Sample("png-rgb-1x1", save(Image.fromarray(pixels[:1, :1]), "PNG"), "png"),
        Sample("png-rgba", save(rgba, "PNG"), "png"),
        Sample("png-gray", save(img.convert("L"), "PNG"), "png"),
        Sample("png-gray-alpha", save(rgba.convert("LA"), "PNG"), "png"),
        Sample("png-palette", save(palette, "PNG"), "png"),
        Sample("png-palette-trns", save(palette, "PNG", transparency=3), "png"),
        Sample("png-1bit", save(img.convert("1"), "PNG"), "png"),
        Sample("png-gray16", png16(rng.integers(0, 65536, (19, 23)).astype(np.uint16)), "png"),
        Sample("png-rgb16", png16(rng.integers(0, 65536, (19, 23, 3)).astype(np.uint16)), "png"),
        Sample("png-optimized", save(img, "PNG", optimize=True), "png"),
        Sample("png-palette-4bit", save(img.quantize(12), "PNG", bits=4), "png"),
        Sample("gif", save(img, "GIF"), "gif"),
        Sample("gif-animated", save(palette, "GIF", save_all=True, duration=40, loop=0,
                                    append_images=[Image.fromarray(photo(37, 53, seed=s)).quantize(29)
                                                   for s in (13, 14)]), "gif"),
        Sample("gif-transparent", save(palette, "GIF", transparency=3), "gif"),
        Sample("bmp-rgb", save(img, "BMP"), "bmp"),
        Sample("bmp-rgba", save(rgba, "BMP"), "bmp"),
        Sample("webp-lossless", save(img, "WEBP", lossless=True), "webp"),
        Sample("webp-lossy", save(img, "WEBP", quality=80), "webp"),
        Sample("webp-rgba", save(rgba, "WEBP", lossless=True), "webp"),
    ]
    whole = save(img, "PNG")
    out.append(Sample("png-truncated", whole[:len(whole) // 2], "png", truncated=True))
    return out


def corpus() -> list[Sample]:
    return jpeg_samples() + other_samples()

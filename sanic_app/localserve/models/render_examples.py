"""Render sample digits from the held-out split as PNGs for the README's first requests.

Each image is a held-out 8x8 digit scaled to 0..255 (ink white on black, as in the training
data) and enlarged with nearest-neighbour, so an area downscale back to 8x8 (specs/digits.json)
restores the original pixels. Only images the model classifies right are written, one per
digit; the script checks that after the downscale.

    python -m sanic_app.localserve.models.render_examples [out_dir]
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .digits import DigitsModel
from .train_digits import held_out_split

SIZE = 64
SCALE = 16 / 255  # specs/digits.json: 0..255 -> 0..16
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "specs" / "examples"


def to_png_pixels(image_0_16: np.ndarray) -> np.ndarray:
    pixels = np.rint(image_0_16[..., 0] * 255 / 16).astype(np.uint8)
    return np.kron(pixels, np.ones((SIZE // 8, SIZE // 8), dtype=np.uint8))


def as_model_input(png_path: Path) -> np.ndarray:
    """What the gateway's spec does to the PNG: grayscale, area-resize to 8x8, x 16/255."""
    image = Image.open(png_path).convert("L").resize((8, 8), Image.Resampling.BOX)
    return (np.asarray(image, dtype=np.float32) * np.float32(SCALE))[None, :, :, None]


def main(out_dir=DEFAULT_DIR) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = DigitsModel()
    _, x_test, _, y_test = held_out_split()
    for digit in range(10):
        for image in x_test[y_test == digit]:
            if model.probabilities(image[None]).argmax() == digit:
                break
        path = out_dir / f"digit-{digit}.png"
        Image.fromarray(to_png_pixels(image), mode="L").save(path, optimize=True)
        predicted = int(model.probabilities(as_model_input(path)).argmax())
        if predicted != digit:
            raise SystemExit(f"{path}: model says {predicted} after the downscale")
        print(f"wrote {path} ({path.stat().st_size} bytes), classified {predicted}")


if __name__ == "__main__":
    main(*sys.argv[1:])

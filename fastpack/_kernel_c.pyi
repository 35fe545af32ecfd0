"""Type stubs for the compiled image kernel (same API as fastpack._kernel_py)."""
from typing import Sequence

import numpy as np
from PIL import Image

from fastpack._kernel_images import ImageBatchBase
from fastpack.imageparams import PreprocessParams

def write_image(source: np.ndarray | PillowPixels, params: PreprocessParams, dest: memoryview) -> None: ...

class PillowPixels:
    image: Image.Image
    shape: tuple[int, int, int]
    step: int

def borrow_pillow(image: Image.Image) -> PillowPixels | None: ...

class ImageBatch(ImageBatchBase): ...

def preprocess(images: Sequence[np.ndarray | Image.Image], params: PreprocessParams) -> np.ndarray: ...

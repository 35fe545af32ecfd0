"""Type stubs for the compiled image kernel (same API as fastpack._kernel_py)."""
from typing import Sequence

import numpy as np

from fastpack._kernel_images import ImageBatchBase
from fastpack.imageparams import PreprocessParams

def write_image(source: np.ndarray, params: PreprocessParams, dest: memoryview) -> None: ...
def float16_bits(values: np.ndarray) -> list[int]: ...

class ImageBatch(ImageBatchBase): ...

def preprocess(images: Sequence[np.ndarray], params: PreprocessParams) -> np.ndarray: ...

"""The committed digits weights: held-out accuracy above 0.9, and the sample PNGs read right."""
from pathlib import Path

import numpy as np
import pytest

from sanic_app.localserve.models.digits import DigitsModel
from sanic_app.localserve.models.render_examples import as_model_input
from sanic_app.localserve.models.train_digits import held_out_split

EXAMPLES = Path(__file__).resolve().parents[3] / "specs" / "examples"


@pytest.fixture(scope="module")
def model():
    return DigitsModel()


def test_held_out_accuracy_above_0_9_and_as_recorded(model):
    _, x_test, _, y_test = held_out_split()
    accuracy = float((model.probabilities(x_test).argmax(axis=1) == y_test).mean())
    assert accuracy > 0.9
    assert accuracy == pytest.approx(model.held_out_accuracy, abs=1e-9)


def test_png_round_trip_keeps_accuracy(model):
    # What the gateway does to an upload (0..255 pixels, x16/255) must not cost accuracy.
    _, x_test, _, y_test = held_out_split()
    as_uploaded = np.rint(x_test * 255 / 16).astype(np.uint8).astype(np.float32) * np.float32(16 / 255)
    assert (model.probabilities(as_uploaded).argmax(axis=1) == y_test).mean() > 0.9


@pytest.mark.parametrize("digit", range(10))
def test_example_png_is_classified_right(model, digit):
    probabilities = model.probabilities(as_model_input(EXAMPLES / f"digit-{digit}.png"))
    assert probabilities.argmax() == digit


def test_blank_and_batched_inputs(model):
    out = model.run("serving_default", {"image": np.zeros((3, 8, 8, 1), np.float32)},
                    ["classes", "probabilities"])
    assert out["classes"].shape == (3,) and out["probabilities"].shape == (3, 10)
    assert out["probabilities"].dtype == np.float32

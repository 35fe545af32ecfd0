"""Train the embedded `digits` model and write its weights to digits.npz beside this file.

Why a script: the weights are committed, but anyone must be able to reproduce them (and the
held-out accuracy we quote) from scikit-learn's bundled data alone. scikit-learn is used here
only; serving runs the forward pass in numpy (see digits.py).

    python -m sanic_app.localserve.models.train_digits
"""
from pathlib import Path

import numpy as np

# Everything that decides the split and the weights; the test suite recomputes the split
# from these numbers, so keep them in the npz too.
SEED = 0
TEST_SIZE = 0.25
HIDDEN = 64
PIXEL_MAX = 16.0  # load_digits pixels run 0..16, ink high

WEIGHTS_PATH = Path(__file__).with_name("digits.npz")


def held_out_split(seed=SEED, test_size=TEST_SIZE):
    """Return (x_train, x_test, y_train, y_test): images as float32 [n,8,8,1] in 0..16."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = data.images.astype(np.float32)[..., None]
    return train_test_split(
        images, data.target, test_size=test_size, stratify=data.target, random_state=seed
    )


def train():
    """Fit a 64-HIDDEN-10 ReLU MLP; return (weights dict, held-out accuracy)."""
    from sklearn.neural_network import MLPClassifier

    x_train, x_test, y_train, y_test = held_out_split()
    net = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), activation="relu", alpha=1e-3,
        max_iter=600, random_state=SEED,
    )
    net.fit(x_train.reshape(len(x_train), -1) / PIXEL_MAX, y_train)
    accuracy = float(net.score(x_test.reshape(len(x_test), -1) / PIXEL_MAX, y_test))
    weights = {
        "w1": net.coefs_[0].astype(np.float32), "b1": net.intercepts_[0].astype(np.float32),
        "w2": net.coefs_[1].astype(np.float32), "b2": net.intercepts_[1].astype(np.float32),
    }
    return weights, accuracy


def main():
    weights, accuracy = train()
    np.savez_compressed(
        WEIGHTS_PATH, **weights,
        held_out_accuracy=np.float64(accuracy), seed=np.int64(SEED),
        test_size=np.float64(TEST_SIZE), pixel_max=np.float32(PIXEL_MAX),
    )
    print(f"wrote {WEIGHTS_PATH} ({WEIGHTS_PATH.stat().st_size} bytes); "
          f"held-out accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()

"""Build a complete offline data root for CI and the test suite.

Machines without internet only have the real MNIST *test* split (10,000
images, in ``shared/data``). This script lays out a full torchvision-style
root from it:

- ``MNIST/raw/t10k-*``        the real MNIST test split, copied as is;
- ``MNIST/raw/train-*``       STAND-IN: the same 10,000 real test images and
                              labels, written as the training split (the real
                              one has 60,000);
- ``FashionMNIST/raw/*``      STAND-IN: no Fashion-MNIST file is available
                              offline, so both splits hold those same real MNIST
                              digits, with the digit as the class label.

The stand-ins are real images, never noise, so every pipeline runs for real;
but numbers measured on them say nothing about the real training split or
about Fashion-MNIST. A ``STAND-IN.txt`` in the root says so too.

Usage: ``python tests/offline_data.py SHARED_DATA_DIR OUTPUT_ROOT``
"""

import shutil
import sys
from pathlib import Path

NOTE = """This data root was built by tests/offline_data.py for offline CI.
MNIST/raw/t10k-*      real MNIST test split.
MNIST/raw/train-*     STAND-IN: the 10,000 real MNIST test images as the train split.
FashionMNIST/raw/*    STAND-IN: the same real MNIST digits, for both splits.
Numbers measured here say nothing about real MNIST-train or Fashion-MNIST.
"""

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def build_offline_root(shared_data, out_root):
    """Lay out ``out_root`` as described above from ``shared_data``; return ``out_root``."""
    source = Path(shared_data) / "MNIST" / "raw"
    missing = [name for name in TEST_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{source} lacks {missing}; cannot build the offline data root")
    out_root = Path(out_root)
    mnist = out_root / "MNIST" / "raw"
    fashion = out_root / "FashionMNIST" / "raw"
    for folder in (mnist, fashion):
        folder.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        real = source / name
        shutil.copyfile(real, mnist / name)                                        # real test split
        shutil.copyfile(real, mnist / name.replace("t10k", "train"))                # stand-in train
        shutil.copyfile(real, fashion / name)                                       # stand-in test
        shutil.copyfile(real, fashion / name.replace("t10k", "train"))              # stand-in train
    (out_root / "STAND-IN.txt").write_text(NOTE)
    return out_root


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/offline_data.py SHARED_DATA_DIR OUTPUT_ROOT")
    root = build_offline_root(sys.argv[1], sys.argv[2])
    print(f"offline data root ready at {root} (see {root / 'STAND-IN.txt'})")

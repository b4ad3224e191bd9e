"""Build a complete offline data root for CI and the test suite.

Machines without internet have the real MNIST files in ``shared/data``: the
10,000-image test split and, where it is present, the real 60,000-image
training split. This script lays out a full torchvision-style root from them:

- ``MNIST/raw/t10k-*``        the real MNIST test split, copied as is;
- ``MNIST/raw/train-*``       the real MNIST training split, copied as is. Only
                              if ``shared/data`` lacks it: a STAND-IN made of the
                              10,000 real test images and labels;
- ``FashionMNIST/raw/*``      STAND-IN: no Fashion-MNIST file is available
                              offline, so both splits hold real MNIST digits
                              (the test split's), with the digit as the class label.

The stand-ins are real images, never noise, so every pipeline runs for real;
but numbers measured on them say nothing about Fashion-MNIST (or, for a
stand-in training split, about the real one). ``STAND-IN.txt`` in the root
says which files are stand-ins.

Usage: ``python tests/offline_data.py SHARED_DATA_DIR OUTPUT_ROOT``
"""

import shutil
import sys
from pathlib import Path

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN_FILES = tuple(name.replace("t10k", "train") for name in TEST_FILES)


def build_offline_root(shared_data, out_root):
    """Lay out ``out_root`` as described above from ``shared_data``; return ``out_root``."""
    source = Path(shared_data) / "MNIST" / "raw"
    missing = [name for name in TEST_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{source} lacks {missing}; cannot build the offline data root")
    real_train = all((source / name).is_file() for name in TRAIN_FILES)
    out_root = Path(out_root)
    mnist = out_root / "MNIST" / "raw"
    fashion = out_root / "FashionMNIST" / "raw"
    for folder in (mnist, fashion):
        folder.mkdir(parents=True, exist_ok=True)
    for test_name, train_name in zip(TEST_FILES, TRAIN_FILES):
        shutil.copyfile(source / test_name, mnist / test_name)                   # real test split
        shutil.copyfile(source / (train_name if real_train else test_name), mnist / train_name)
        shutil.copyfile(source / test_name, fashion / test_name)                 # stand-in test
        shutil.copyfile(source / test_name, fashion / train_name)                # stand-in train
    (out_root / "STAND-IN.txt").write_text(
        "This data root was built by tests/offline_data.py for offline CI.\n"
        "MNIST/raw/t10k-*      real MNIST test split.\n"
        + ("MNIST/raw/train-*     real MNIST training split (60,000 images).\n" if real_train else
           "MNIST/raw/train-*     STAND-IN: the 10,000 real MNIST test images as the train split.\n")
        + "FashionMNIST/raw/*    STAND-IN: real MNIST test digits, for both splits.\n"
        "Numbers measured on a stand-in say nothing about the dataset it stands in for.\n")
    return out_root


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/offline_data.py SHARED_DATA_DIR OUTPUT_ROOT")
    root = build_offline_root(sys.argv[1], sys.argv[2])
    print(f"offline data root ready at {root} (see {root / 'STAND-IN.txt'})")

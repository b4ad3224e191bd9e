"""MNIST and Fashion-MNIST: reading the raw files, and two ways to feed a GAN.

The files live in torchvision's layout, so data torchvision already downloaded
is reused::

    <root>/MNIST/raw/train-images-idx3-ubyte.gz      (or without .gz)
    <root>/FashionMNIST/raw/t10k-labels-idx1-ubyte.gz ...

``<root>`` is the ``root`` argument, else ``$GAN_COURSE_DATA``, else ``data/`` at
the top of the repository. A missing split is downloaded from torchvision's own
mirrors and checked against the official md5.

Two routes from files to batches:

1. The classic route: a torchvision ``Dataset`` with transforms, fed through a
   ``DataLoader`` (``classic_dataset``, ``classic_transform``). Every image is
   converted one at a time, on the CPU, every epoch.
2. The course's fast route: the whole split becomes one tensor on the device
   (``load_to_device``), and ``ShuffledBatches`` slices shuffled batches out of
   it. MNIST is only 47 MB as uint8, so it fits anywhere.
"""

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .guards import FLOAT_DTYPES, require_range, require_tensor
from .runtime import REPO_ROOT, resolve_device
from .taught import answers

IMAGE_MAGIC = 2051  # IDX header: 0x00000803, unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # IDX header: 0x00000801, unsigned bytes, 1 dimension
SPLITS = ("train", "test")


class DatasetNotFoundError(FileNotFoundError):
    """A split's files are not on disk and could not be downloaded."""


class DataFileError(ValueError):
    """A data file exists but is damaged: bad gzip, wrong header, wrong size."""


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset lives and what its files must hash to."""

    folder: str  # the folder name torchvision uses under <root>
    title: str
    files: dict  # split -> ((images file, md5 of .gz), (labels file, md5 of .gz))


DATASETS = {
    "mnist": DatasetInfo(
        folder="MNIST",
        title="MNIST",
        files={
            "train": (("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                      ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432")),
            "test": (("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
                     ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c")),
        },
    ),
    "fashion_mnist": DatasetInfo(
        folder="FashionMNIST",
        title="Fashion-MNIST",
        files={
            "train": (("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                      ("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe")),
            "test": (("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79"),
                     ("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310")),
        },
    ),
}

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


# ---------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------

def data_root(root=None):
    """Return the data root as a ``Path``: ``root``, else ``$GAN_COURSE_DATA``, else ``data/``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GAN_COURSE_DATA")
    if env:
        return Path(env).expanduser()
    return REPO_ROOT / "data"


def raw_folder(name, root=None):
    """``<root>/<MNIST or FashionMNIST>/raw``: the folder torchvision reads."""
    return data_root(root) / _info(name).folder / "raw"


def _info(name):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _existing(raw, base):
    """The path of ``base`` in ``raw``, uncompressed or ``.gz``, or None.

    A folder where a data file should be is an error of its own, not "missing".
    """
    for candidate in (raw / base, raw / f"{base}.gz"):
        if candidate.is_dir():
            raise DataFileError(f"{candidate} is a folder, but a data file was expected there; "
                                f"remove the folder and load again")
        if candidate.is_file():
            return candidate
    return None


def find_split_files(name, split, root=None, download=True):
    """Return ``(images_path, labels_path)`` for a split, downloading if allowed.

    Raises ``DatasetNotFoundError`` naming the files expected, the folder
    searched and how to fix it, when the files are missing and cannot be fetched.
    """
    info, raw = _info(name), raw_folder(name, root)
    _check_split(split)
    wanted = info.files[split]
    paths = [_existing(raw, base) for base, _ in wanted]
    if all(paths):
        return tuple(paths)
    reason = "download=False"
    if download:
        try:
            for (base, md5), path in zip(wanted, paths):
                if path is None:
                    _download(info, base, md5, raw)
            return tuple(_existing(raw, base) for base, _ in wanted)
        except DataFileError:
            raise
        except Exception as error:  # no network, mirror down, disk full, ...
            reason = f"download failed: {type(error).__name__}: {error}"
    expected = "\n".join(f"  {raw / base}[.gz]" for base, _ in wanted)
    raise DatasetNotFoundError(
        f"{info.title} '{split}' split not found under data root {data_root(root)}.\n"
        f"Expected these files (gzip-compressed or not):\n{expected}\n"
        f"Could not fetch them ({reason}).\n"
        f"To fix: copy the files into {raw}, or set GAN_COURSE_DATA to a folder "
        f"that holds {info.folder}/raw/, or pass root=...; with internet access, "
        f"download=True fetches them from torchvision's mirrors."
    )


# ---------------------------------------------------------------------------
# Downloading, through torchvision's mirrors, checked against the official md5
# ---------------------------------------------------------------------------

def _mirrors(name):
    """Base URLs torchvision downloads this dataset from."""
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    return list(cls.mirrors)


def _fetch_url(url, destination):
    """Download ``url`` to the file ``destination`` (torchvision's downloader)."""
    from torchvision.datasets.utils import download_url

    download_url(url, root=str(destination.parent), filename=destination.name)


def md5sum(path):
    """Hex md5 of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(info, base, md5, raw):
    """Fetch ``<base>.gz`` into ``raw``; keep it only if its md5 is the official one.

    The file is downloaded under a temporary name and renamed into place only
    after the check, so a bad download never sits there looking valid.
    """
    raw.mkdir(parents=True, exist_ok=True)
    final = raw / f"{base}.gz"
    partial = raw / f".{base}.gz.{os.getpid()}.part"  # one per process: parallel downloads never mix
    errors = []
    name = next(key for key, value in DATASETS.items() if value is info)
    for mirror in _mirrors(name):
        url = f"{mirror}{base}.gz"
        try:
            _fetch_url(url, partial)
            got = md5sum(partial)
            if got == md5:
                os.replace(partial, final)
                return final
            errors.append(f"{url}: md5 {got}, expected {md5}")
        except Exception as error:
            errors.append(f"{url}: {type(error).__name__}: {error}")
        finally:
            partial.unlink(missing_ok=True)
    if any("md5" in line for line in errors):
        raise DataFileError(
            f"downloaded {base}.gz does not match the official md5; the file was "
            f"removed, nothing was saved in {raw}.\n  " + "\n  ".join(errors)
        )
    raise ConnectionError("; ".join(errors))


# ---------------------------------------------------------------------------
# Reading the IDX files, checking every byte count
# ---------------------------------------------------------------------------

def _read_bytes(path):
    """File contents, un-gzipped when the name ends in ``.gz``."""
    data = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise DataFileError(
                f"{path}: not a complete gzip file ({error}). Delete it and load "
                f"again to re-download, or copy an intact file there."
            ) from None
    return data


def read_idx(path, magic):
    """Read an IDX file of unsigned bytes and return it as a numpy uint8 array.

    ``magic`` is ``IMAGE_MAGIC`` (-> array ``[N, rows, cols]``) or
    ``LABEL_MAGIC`` (-> array ``[N]``). Checks the magic number, the header and
    that the file size matches the header exactly; raises ``DataFileError``
    naming the file otherwise.
    """
    data = _read_bytes(path)
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataFileError(f"{path}: file is {len(data)} bytes, too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGE_MAGIC else "labels"
        raise DataFileError(
            f"{path}: wrong magic number {found}, expected {magic} for an IDX {kind} file"
        )
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DataFileError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    expected = header_size + int(np.prod(dims))
    if len(data) != expected:
        raise DataFileError(
            f"{path}: {len(data)} bytes, but its header ({dims}) needs {expected}; "
            f"the file is truncated or damaged"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def load_dataset(name, split="train", root=None, download=True):
    """Load a whole split: ``(images, labels)``.

    ``images``: uint8 tensor ``[N, 28, 28]`` (0 = black, 255 = white);
    ``labels``: int64 tensor ``[N]`` with values 0..9. Nothing is returned
    unless both files are intact and agree on ``N``.
    """
    images_path, labels_path = find_split_files(name, split, root, download)
    images = read_idx(images_path, IMAGE_MAGIC)
    labels = read_idx(labels_path, LABEL_MAGIC)
    if len(images) != len(labels):
        raise DataFileError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels; the two files must come from the same split"
        )
    if labels.size and labels.max() > 9:
        raise DataFileError(f"{labels_path}: label {labels.max()} found, expected 0..9")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def load_mnist(split="train", root=None, download=True):
    """MNIST digits: ``(images uint8 [N,28,28], labels int64 [N])``. See ``load_dataset``."""
    return load_dataset("mnist", split, root, download)


def load_fashion_mnist(split="train", root=None, download=True):
    """Fashion-MNIST clothes: ``(images uint8 [N,28,28], labels int64 [N])``.

    Class names are in ``FASHION_CLASSES``. See ``load_dataset``.
    """
    return load_dataset("fashion_mnist", split, root, download)


# ---------------------------------------------------------------------------
# Pixel ranges: the course's one converter
# ---------------------------------------------------------------------------

PIXEL_RANGES = {
    "uint8": (0, 255),     # bytes, as stored in the files
    "unit": (0.0, 1.0),    # floats, as images are shown and saved (and a Sigmoid generator's range)
    "tanh": (-1.0, 1.0),   # floats, as a Tanh generator makes them and the course trains on them
}


@answers("01_data", "to_minus_one_one")
@answers("01_data", "to_zero_one")
def convert_pixels(images, source, target):
    """Images from one pixel range to another: ``"uint8"`` [0, 255], ``"unit"`` [0, 1], ``"tanh"`` [-1, 1].

    ``images``: a tensor of any shape, uint8 when ``source`` is ``"uint8"``,
    float otherwise. Returns the same shape: float32 for ``"unit"`` and
    ``"tanh"``, uint8 (rounded) for ``"uint8"``. The input is never changed.
    Values outside ``source``'s range, NaN or infinite, raise ``ValueError``:
    a converter that passed them on would turn them into plausible pixels.

    Taught in session 1, section 4 (Exercises 1 and 2, ``to_minus_one_one``
    and ``to_zero_one``): the course uses this one everywhere else.
    """
    for name in (source, target):
        if name not in PIXEL_RANGES:
            raise ValueError(f"pixel range must be one of {sorted(PIXEL_RANGES)}, got {name!r}")
    dtypes = (torch.uint8,) if source == "uint8" else FLOAT_DTYPES
    require_tensor(images, "images", dtypes=dtypes)
    low, high = PIXEL_RANGES[source]
    require_range(images, low, high, f"images in the {source!r} range", tolerance=1e-3)
    x = images.float()
    x = (x - low) / (high - low)                      # -> [0, 1]
    low, high = PIXEL_RANGES[target]
    x = (x * (high - low) + low).clamp(low, high)     # -> the target range, rounding errors clipped
    return x.round().to(torch.uint8) if target == "uint8" else x


# ---------------------------------------------------------------------------
# The fast route: one tensor on the device, shuffled batches sliced from it
# ---------------------------------------------------------------------------

def load_to_device(name="mnist", split="train", device=None, limit=None, root=None):
    """Load a split as one float tensor on ``device``, ready for a GAN.

    Returns ``(images, labels)``: ``images`` float32 ``[N, 1, 28, 28]`` in
    [-1, 1], ``labels`` int64 ``[N]``, both on ``device`` (default: the best
    one, see ``runtime.resolve_device``). ``limit`` keeps only the first
    ``limit`` images.
    """
    images, labels = load_dataset(name, split, root)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        images, labels = images[:limit], labels[:limit]
    device = resolve_device(device)
    images = images.to(device)  # move as uint8 (4x less traffic), convert there
    return convert_pixels(images, "uint8", "tanh").unsqueeze(1), labels.to(device)


class ShuffledBatches:
    """Shuffled mini-batches sliced from tensors that already live on a device.

    ``ShuffledBatches(images, labels, batch_size=64, generator=g)`` yields
    ``(images[idx], labels[idx])`` for a new random order every epoch; with one
    tensor it yields that tensor's batches directly. The order comes from
    ``generator`` (a CPU ``torch.Generator``), so runs repeat exactly.
    ``drop_last=True`` keeps every batch the same size.
    """

    def __init__(self, *tensors, batch_size, generator=None, drop_last=True):
        if not tensors:
            raise ValueError("ShuffledBatches needs at least one tensor")
        for i, t in enumerate(tensors):
            require_tensor(t, f"tensor {i}")
        sizes = {len(t) for t in tensors}
        if len(sizes) != 1:
            raise ValueError(f"all tensors must have the same length, got {[len(t) for t in tensors]}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.generator = generator
        self.drop_last = drop_last
        self.n = sizes.pop()
        if drop_last and self.n < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the {self.n} items available")

    def __len__(self):
        """Number of batches per epoch."""
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator)
        order = order.to(self.tensors[0].device)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            batch = tuple(t[idx] for t in self.tensors)
            yield batch if len(batch) > 1 else batch[0]


# ---------------------------------------------------------------------------
# The classic route: torchvision Dataset + transforms + DataLoader
# ---------------------------------------------------------------------------

def classic_transform():
    """torchvision transform: PIL image -> float tensor ``[1,28,28]`` in [-1,1]."""
    from torchvision import transforms

    return transforms.Compose([
        transforms.ToTensor(),                 # uint8 [0,255] -> float [0,1]
        transforms.Normalize((0.5,), (0.5,)),  # (x - 0.5) / 0.5 -> [-1,1]
    ])


def classic_dataset(name="mnist", split="train", transform=None, root=None, download=True):
    """A torchvision ``MNIST``/``FashionMNIST`` dataset over the same files.

    torchvision insists on the uncompressed files of both splits, so any
    ``.gz`` file is unpacked next to itself first, as torchvision's own download
    does. ``transform`` defaults to ``classic_transform()``. Indexing the
    dataset gives ``(image [1,28,28] float, label int)``.
    """
    from torchvision import datasets

    _check_split(split)
    for each_split in SPLITS:
        for path in find_split_files(name, each_split, root, download):
            if path.suffix == ".gz":
                _unpack(path)
    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    return cls(str(data_root(root)), train=(split == "train"),
               transform=transform or classic_transform(), download=False)


def unpack_for_torchvision(root=None):
    """Unpack every ``.gz`` data file of the root that has no uncompressed twin yet; return the paths written.

    torchvision's datasets read only the uncompressed files. ``classic_dataset``
    unpacks what it needs on first use, but a grading kernel sees the data
    root read-only (``gan_grader``'s sandbox), so the grade command calls
    this first, outside the sandbox. Missing files are left alone: the
    loaders report them (or download them). ``DataFileError`` when a file
    cannot be unpacked, naming it and the fix.
    """
    written = []
    for name, info in DATASETS.items():
        raw = raw_folder(name, root)
        for split in SPLITS:
            for base, _ in info.files[split]:
                path = _existing(raw, base)
                if path is not None and path.suffix == ".gz":
                    _unpack(path)
                    written.append(path.with_suffix(""))
    return written


def _unpack(path):
    """Write the un-gzipped copy of ``path`` beside it (temporary file + rename)."""
    target = path.with_suffix("")
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")  # safe when processes unpack at once
    try:
        partial.write_bytes(_read_bytes(path))
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DataFileError(
            f"cannot unpack {path} into {target.parent} for torchvision ({error}); "
            f"point GAN_COURSE_DATA at a writable copy of the data"
        ) from None

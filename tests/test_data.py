"""helpers.data: the IDX reader, clear errors on bad files, downloads, both batch routes."""

import gzip
import shutil

import pytest
import torch

from helpers import data


def write_idx(path, magic, dims, payload=None, compress=True):
    """Write a small IDX file; ``payload`` defaults to the right number of bytes."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    if payload is None:
        n = 1
        for d in dims:
            n *= d
        payload = bytes(i % 10 for i in range(n))
    blob = header + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(blob) if compress else blob)
    return path


def make_split(root, split="test", n=12, folder="MNIST", compress=True):
    raw = root / folder / "raw"
    prefix = "t10k" if split == "test" else "train"
    suffix = ".gz" if compress else ""
    images = write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", data.IMAGE_MAGIC, [n, 28, 28], compress=compress)
    labels = write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", data.LABEL_MAGIC, [n], compress=compress)
    return images, labels


def test_real_mnist_test_split_has_the_known_class_counts():
    images, labels = data.load_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10_000,) and labels.dtype == torch.int64
    counts = torch.bincount(labels, minlength=10)
    assert counts[0] == 980 and counts[1] == 1135
    assert int(counts.sum()) == 10_000


@pytest.mark.parametrize("compress", [True, False])
def test_reads_gzip_and_plain_files(tmp_path, compress):
    make_split(tmp_path, n=7, compress=compress)
    images, labels = data.load_mnist("test", root=tmp_path, download=False)
    assert images.shape == (7, 28, 28) and labels.tolist() == list(range(7))


def test_root_comes_from_argument_then_env_then_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_COURSE_DATA", str(tmp_path / "env"))
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_root() == tmp_path / "env"
    monkeypatch.delenv("GAN_COURSE_DATA")
    assert data.data_root() == data.REPO_ROOT / "data"


def test_missing_split_without_network_names_files_root_and_fix(tmp_path, monkeypatch):
    def no_network(url, destination):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(data, "_fetch_url", no_network)
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_mnist("train", root=tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert str(tmp_path) in message
    assert "GAN_COURSE_DATA" in message and "network is unreachable" in message
    assert not list((tmp_path / "MNIST" / "raw").glob("*")), "nothing may be left behind"


def test_download_false_gives_the_same_clear_error(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="download=False"):
        data.load_fashion_mnist("test", root=tmp_path, download=False)


def test_download_with_bad_md5_is_an_error_and_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def fake_fetch(url, destination):
        calls.append(url)
        destination.write_bytes(b"this is not the MNIST file")

    monkeypatch.setattr(data, "_fetch_url", fake_fetch)
    with pytest.raises(data.DataFileError, match="md5"):
        data.load_mnist("train", root=tmp_path)
    assert calls, "the download path must have been tried"
    assert all("train-images-idx3-ubyte.gz" in url for url in calls)
    assert not list((tmp_path / "MNIST" / "raw").iterdir()), "a bad download must not stay in place"


def test_download_with_good_md5_is_kept(tmp_path, monkeypatch):
    """A download whose md5 matches is renamed into place and then read."""
    source = tmp_path / "mirror"
    images, labels = make_split(source, n=5)
    md5s = {p.name: data.md5sum(p) for p in (images, labels)}
    monkeypatch.setitem(data.DATASETS, "mnist", data.DatasetInfo(
        folder="MNIST", title="MNIST",
        files={"test": (("t10k-images-idx3-ubyte", md5s[images.name]),
                        ("t10k-labels-idx1-ubyte", md5s[labels.name]))}))
    monkeypatch.setattr(data, "_fetch_url",
                        lambda url, dest: shutil.copyfile(source / "MNIST" / "raw" / url.rsplit("/", 1)[1], dest))
    got_images, got_labels = data.load_mnist("test", root=tmp_path / "root")
    assert got_images.shape == (5, 28, 28) and got_labels.shape == (5,)
    assert sorted(p.name for p in (tmp_path / "root" / "MNIST" / "raw").iterdir()) == sorted(md5s)


def test_truncated_real_file_is_a_clear_error(tmp_path, real_test_split):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = real_test_split
    shutil.copy(labels, raw)
    (raw / images.name).write_bytes(images.read_bytes()[:100_000])  # cut the download short
    with pytest.raises(data.DataFileError, match="t10k-images-idx3-ubyte.gz"):
        data.load_mnist("test", root=tmp_path, download=False)


def test_truncated_payload_inside_valid_gzip_is_caught(tmp_path):
    images, _ = make_split(tmp_path, n=4)
    write_idx(images, data.IMAGE_MAGIC, [4, 28, 28], payload=bytes(3 * 784))
    with pytest.raises(data.DataFileError, match=r"truncated or damaged"):
        data.load_mnist("test", root=tmp_path, download=False)


def test_wrong_magic_number_is_named(tmp_path):
    images, _ = make_split(tmp_path, n=4)
    write_idx(images, 1234, [4, 28, 28])
    with pytest.raises(data.DataFileError, match=r"wrong magic number 1234, expected 2051"):
        data.load_mnist("test", root=tmp_path, download=False)


def test_images_labels_count_mismatch(tmp_path):
    _, labels = make_split(tmp_path, n=4)
    write_idx(labels, data.LABEL_MAGIC, [3])
    with pytest.raises(data.DataFileError, match=r"4 images but .* 3 labels"):
        data.load_mnist("test", root=tmp_path, download=False)


def test_unknown_split_and_dataset():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_mnist("validation")
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load_dataset("cifar10")


def test_pixel_conversions_round_trip():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(16, 16)
    unit = data.convert_pixels(pixels, "uint8", "unit")
    tanh = data.convert_pixels(pixels, "uint8", "tanh")
    assert unit.dtype == torch.float32 and unit.min() == 0 and unit.max() == 1
    assert tanh.min() == -1 and tanh.max() == 1 and tanh.dtype == torch.float32
    assert torch.allclose(data.convert_pixels(tanh, "tanh", "unit"), unit)
    assert torch.allclose(data.convert_pixels(unit, "unit", "tanh"), tanh)
    assert torch.equal(data.convert_pixels(tanh, "tanh", "uint8"), pixels)
    assert pixels[1, 0] == 16, "the input is never changed"


@pytest.mark.parametrize("bad, source, message", [
    (torch.zeros(2, 2), "uint8", "dtype torch.uint8"),
    (torch.zeros(2, 2, dtype=torch.int64), "uint8", "dtype torch.uint8"),
    ([1, 2, 3], "uint8", "must be a torch.Tensor"),
    (torch.tensor([0.0, 255.0]), "tanh", r"expected values in \[-1, 1\], got min 0 max 255"),
    (torch.tensor([0.5, float("nan")]), "unit", r"got 1 NaN value"),
    (torch.tensor([0.5, float("inf")]), "tanh", r"got 1 infinite value"),
    (torch.tensor([0.5]), "pixels", "pixel range must be one of"),
])
def test_the_pixel_converter_refuses_what_is_not_in_its_source_range(bad, source, message):
    with pytest.raises((TypeError, ValueError), match=message):
        data.convert_pixels(bad, source, "unit")


def test_load_to_device_gives_a_gan_ready_tensor():
    images, labels = data.load_to_device("mnist", "test", device="cpu", limit=300)
    assert images.shape == (300, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1 and labels.shape == (300,)


def test_shuffled_batches_cover_each_item_once_per_epoch_and_repeat():
    x = torch.arange(10)
    y = x * 10
    batches = data.ShuffledBatches(x, y, batch_size=3, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 3
    epoch = list(batches)
    seen = torch.cat([bx for bx, _ in epoch])
    assert len(seen) == 9 and len(set(seen.tolist())) == 9
    assert all(torch.equal(by, bx * 10) for bx, by in epoch)
    again = data.ShuffledBatches(x, batch_size=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat(list(again)), seen), "same seed, same order"
    assert len(data.ShuffledBatches(x, batch_size=3, drop_last=False)) == 4


def test_shuffled_batches_reject_bad_arguments():
    with pytest.raises(ValueError, match="same length"):
        data.ShuffledBatches(torch.zeros(4), torch.zeros(5), batch_size=2)
    with pytest.raises(ValueError, match="larger than the 4 items"):
        data.ShuffledBatches(torch.zeros(4), batch_size=8)
    with pytest.raises(ValueError, match="positive int"):
        data.ShuffledBatches(torch.zeros(4), batch_size=0)


def test_classic_route_matches_the_fast_route(tmp_path):
    """torchvision's dataset + transforms gives the same numbers as convert_pixels."""
    root = tmp_path / "root"
    make_split(root, "train", n=6)
    make_split(root, "test", n=5)
    dataset = data.classic_dataset("mnist", "test", root=root, download=False)
    image, label = dataset[3]
    assert image.shape == (1, 28, 28) and label == 3
    fast, _ = data.load_to_device("mnist", "test", device="cpu", root=root)
    assert torch.allclose(image, fast[3], atol=1e-6)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2)
    batch, labels = next(iter(loader))
    assert batch.shape == (2, 1, 28, 28) and labels.tolist() == [0, 1]


REAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_the_real_mnist_training_split_when_it_is_there():
    """The offline root carries the real 60,000-image split wherever ../shared/data has it."""
    root = data.data_root()
    note = root / "STAND-IN.txt"
    if note.is_file() and "real MNIST training split" not in note.read_text():
        pytest.skip("this data root has a stand-in MNIST training split")
    images, labels = data.load_mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels, minlength=10).tolist() == REAL_TRAIN_COUNTS

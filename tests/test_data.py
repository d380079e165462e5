"""utils.data: loading CIFAR-10 (cache, copies, bad input) and the on-device batches and augmentation.

The real offline copy (``../shared/data/cifar10-jpeg.tar.gz``) is decoded once per session, into a
temporary data folder (the ``cifar`` fixture); every other test that needs files on disk builds a
tiny class-folder copy of its own, so nothing here touches the reader's cache.
"""

import contextlib
import io
import re
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from utils import data

SHARED_COPY = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Every place load_cifar10 looks points at an empty temporary folder; no download."""
    for name in ("root", "env", "xdg"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "OFFLINE_COPIES", [tmp_path / "shared" / "cifar10-jpeg.tar.gz"])
    calls = []

    def no_internet(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", no_internet)
    return tmp_path, calls


@pytest.fixture(scope="session")
def cifar(tmp_path_factory):
    """The offline copy, imported once into a temporary data folder: (data, folder, printed line)."""
    if not SHARED_COPY.is_file():
        pytest.skip(f"the offline copy {SHARED_COPY.name} is not beside the repository")
    folder = tmp_path_factory.mktemp("cifar10")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))
        mp.delenv("CIFAR10_DIR", raising=False)
        mp.setattr(data, "OFFLINE_COPIES", [SHARED_COPY])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            d = data.load_cifar10(folder)
    return d, folder, out.getvalue()


def label_images(labels, size=32):
    """uint8 images whose every pixel encodes the label: value 20·label + 10 in all channels."""
    labels = torch.as_tensor(labels)
    return (labels * 20 + 10).to(torch.uint8)[:, None, None, None].expand(-1, 3, size, size).clone()


def write_class_folder_copy(target: Path, per_class=(3, 2), archive=True, suffix=".png"):
    """A tiny copy in the class-folder layout (pixels encode the label), as a .tar.gz or a folder."""
    members = []
    for split, n in zip(("train", "test"), per_class):
        for label in reversed(range(10)):          # not in label order: the loader must sort
            for i in range(n):
                img = Image.fromarray(np.full((32, 32, 3), 20 * label + 10 + i, dtype=np.uint8))
                buf = io.BytesIO()
                img.save(buf, format="PNG" if suffix == ".png" else "JPEG")
                members.append((f"mirror/{split}/{data.CLASSES[label]}/{i:04d}{suffix}", buf.getvalue()))
    if archive:
        with tarfile.open(target, "w:gz") as tar:
            for name, blob in members:
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        for name, blob in members:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(blob)


# ----------------------------------------------------------------------------------------------
# The real data, the cache
# ----------------------------------------------------------------------------------------------

def test_offline_copy_loads_with_the_right_shapes_and_labels(cifar):
    d, folder, printed = cifar
    assert d.train_images.shape == (50_000, 3, 32, 32) and d.train_images.dtype == torch.uint8
    assert d.test_images.shape == (10_000, 3, 32, 32) and d.test_images.dtype == torch.uint8
    assert d.train_labels.dtype == torch.int64 and d.test_labels.dtype == torch.int64
    assert d.train_labels.bincount().tolist() == [5_000] * 10
    assert d.test_labels.bincount().tolist() == [1_000] * 10
    assert d.classes == ("airplane", "automobile", "bird", "cat", "deer",
                         "dog", "frog", "horse", "ship", "truck")
    assert not d.synthetic and d.loaded_from == "import"
    assert d.source.startswith("CIFAR-10, offline JPEG copy") and "quality 75" in d.source
    assert "imported from" in printed and printed.count("\n") == 1
    assert (folder / data.CACHE_NAME).is_file()


def test_the_official_statistics_fit_the_copy(cifar):
    """CIFAR10_MEAN/STD (official files) standardise the JPEG copy to mean ~0, std ~1."""
    x = data.normalise(cifar[0].train_images[::10])
    assert x.mean((0, 2, 3)).abs().max() < 0.02
    assert (x.std((0, 2, 3)) - 1).abs().max() < 0.03


def test_a_second_load_comes_from_the_cache_and_round_trips(cifar, capsys):
    d, folder, _ = cifar
    again = data.load_cifar10(folder)
    assert again.loaded_from == "cache"
    assert "from the cache" in capsys.readouterr().out
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(again, name), getattr(d, name)), name
    assert again.classes == d.classes and again.source == d.source


def test_labels_follow_the_class_folders(cifar):
    """Class folders, not archive order, decide labels: the classes' mean colours tell them apart
    (ships and airplanes are bluer than frogs and deer)."""
    d = cifar[0]
    mean = torch.stack([d.train_images[d.train_labels == c].float().mean((0, 2, 3)) for c in range(10)])
    blue_minus_red = mean[:, 2] - mean[:, 0]
    c = data.CLASSES.index
    assert blue_minus_red[c("ship")] > blue_minus_red[c("frog")] + 10
    assert blue_minus_red[c("airplane")] > blue_minus_red[c("deer")] + 10


@pytest.mark.parametrize("damage", ["truncate", "flip a byte"])
def test_a_damaged_cache_is_detected_rebuilt_and_said(isolated, capsys, damage):
    tmp, _ = isolated
    write_class_folder_copy(tmp / "root" / "mirror.tar.gz")
    first = data.load_cifar10(tmp / "root")
    cache = tmp / "root" / data.CACHE_NAME
    raw = bytearray(cache.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:                                  # one pixel of the last training image
        start = raw.find(first.train_images[-1].numpy().tobytes())
        assert start >= 0
        raw[start + 1000] ^= 0xFF
    cache.write_bytes(bytes(raw))
    capsys.readouterr()
    rebuilt = data.load_cifar10(tmp / "root")
    out = capsys.readouterr().out.splitlines()
    why = "does not load" if damage == "truncate" else "checksum does not match"
    assert len(out) == 2 and "corrupt" in out[0] and why in out[0] and "rebuilding" in out[0], out
    assert rebuilt.loaded_from == "import"
    assert torch.equal(rebuilt.train_images, first.train_images)
    assert data.load_cifar10(tmp / "root").loaded_from == "cache"


def test_a_class_folder_copy_imports_as_a_folder_or_an_archive(isolated):
    tmp, _ = isolated
    write_class_folder_copy(tmp / "env", archive=False)
    d = data.load_cifar10()                      # $CIFAR10_DIR holds the folder copy
    assert d.train_labels.tolist() == sorted(d.train_labels.tolist())
    assert d.train_labels.bincount().tolist() == [3] * 10
    assert d.test_labels.bincount().tolist() == [2] * 10
    for images, labels in ((d.train_images, d.train_labels), (d.test_images, d.test_labels)):
        assert torch.equal(images[:, :, 0, 0].long() // 20, labels[:, None].expand(-1, 3))
    assert (tmp / "env" / data.CACHE_NAME).is_file()
    assert "copy 'mirror'" in d.source and "JPEG" not in d.source

    write_class_folder_copy(tmp / "root" / "mirror.tar.gz")
    from_archive = data.load_cifar10(tmp / "root")
    assert torch.equal(from_archive.train_images, d.train_images)
    assert torch.equal(from_archive.test_labels, d.test_labels)


def test_a_copy_that_is_not_cifar10_is_rejected_with_its_reason(isolated):
    tmp, _ = isolated
    (tmp / "root" / "train" / "kangaroo").mkdir(parents=True)
    (tmp / "root" / "test").mkdir()
    Image.new("RGB", (32, 32)).save(tmp / "root" / "train" / "kangaroo" / "0.png")
    with pytest.raises(data.DataUnavailable, match="kangaroo"):
        data.load_cifar10(tmp / "root")


def test_offline_with_no_copy_raises_a_clear_error(isolated):
    tmp, download_calls = isolated
    with pytest.raises(data.DataUnavailable) as caught:
        data.load_cifar10()
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    assert download_calls, "the official download was not even tried"
    for place in (tmp / "env", tmp / "xdg" / "cnn-history", tmp / "shared" / "cifar10-jpeg.tar.gz"):
        assert data._show(place) in message, place       # each place, never as an absolute path
    assert str(tmp) not in message
    assert "Name or service not known" in message
    assert "connect to the internet" in message and "$CIFAR10_DIR" in message and ".tar.gz" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert "put it, as it is, in the data folder $CIFAR10_DIR" in message  # where it goes
    assert not any((tmp / "env").iterdir()), "nothing may be written, no synthetic fallback"
    with pytest.raises(data.DataUnavailable, match=re.escape(data._show(tmp / "root"))):
        data.load_cifar10(tmp / "root")


def write_official_archive(target: Path, monkeypatch, per_class=2):
    """A tiny archive in the official layout (cifar-10-batches-py of pickled batches; pixels
    encode the label), with torchvision's md5 checks pointed at its files."""
    import hashlib
    import pickle

    import torchvision

    labels = [c for c in range(10) for _ in range(per_class)]
    pixels = label_images(labels).reshape(len(labels), -1).numpy()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    files = {name: pickle.dumps({"data": pixels, "labels": labels}) for name in names}
    files["batches.meta"] = pickle.dumps({"label_names": list(data.CLASSES)})
    md5 = {name: hashlib.md5(blob).hexdigest() for name, blob in files.items()}
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[n, md5[n]] for n, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5["batches.meta"]})
    with tarfile.open(target, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return target


def test_the_official_archive_loads_even_over_a_half_unpacked_folder(isolated, monkeypatch):
    tmp, _ = isolated
    write_official_archive(tmp / "root" / "cifar-10-python.tar.gz", monkeypatch)
    half = tmp / "root" / "cifar-10-batches-py"
    half.mkdir()
    (half / "data_batch_1").write_bytes(b"cut short")  # what an unpacking that stopped leaves
    d = data.load_cifar10(tmp / "root")
    assert d.source.startswith("CIFAR-10, official files") and d.loaded_from == "import"
    assert d.train_labels.bincount().tolist() == [10] * 10  # 5 batches of 2 per class
    assert torch.equal(d.test_images[:, :, 0, 0].long() // 20, d.test_labels[:, None].expand(-1, 3))
    assert sorted(p.name for p in (tmp / "root").iterdir()) == [
        "cifar-10-batches-py", "cifar-10-python.tar.gz", data.CACHE_NAME]  # no scratch left


@pytest.mark.parametrize("damage", ["cut short", "not gzip"])
def test_a_damaged_official_archive_is_named_with_what_to_do(isolated, monkeypatch, damage):
    tmp, _ = isolated
    archive = write_official_archive(tmp / "root" / "cifar-10-python.tar.gz", monkeypatch)
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2] if damage == "cut short" else b"<html>503</html>")
    with pytest.raises(data.DataUnavailable) as caught:
        data.load_cifar10(tmp / "root")
    message = str(caught.value)
    assert f"{data._show(archive)} is incomplete or damaged" in message
    assert "delete it and try again" in message and data.OFFICIAL_URL in message
    assert sorted(p.name for p in (tmp / "root").iterdir()) == ["cifar-10-python.tar.gz"]


def test_synthetic_only_when_asked_and_labelled(capsys):
    d = data.load_cifar10(synthetic=True)
    assert d.synthetic and d.source.startswith("SYNTHETIC")
    assert capsys.readouterr().out.startswith("SYNTHETIC")
    assert d.train_images.dtype == torch.uint8 and d.train_images.shape[1:] == (3, 32, 32)
    assert d.train_labels.bincount().tolist() == [len(d.train_labels) // 10] * 10
    assert d.test_labels.bincount().tolist() == [len(d.test_labels) // 10] * 10


# ----------------------------------------------------------------------------------------------
# subset
# ----------------------------------------------------------------------------------------------

def test_subset_is_class_balanced_paired_and_seeded(cifar):
    d = cifar[0]
    s = data.subset(d, n_train=1000, n_test=205, seed=1)
    assert s.train_labels.bincount().tolist() == [100] * 10
    assert s.test_labels.bincount().tolist() == [21] * 5 + [20] * 5
    assert s.source == d.source and not s.synthetic
    # each image is an image of the full set with the same label (found by its first 64 bytes)
    prefix = d.train_images.flatten(1)[:, :64].contiguous().view(torch.int64)
    for img, label in zip(s.train_images[:50], s.train_labels[:50]):
        match = (prefix == img.flatten()[:64].contiguous().view(torch.int64)).all(1).nonzero().flatten()
        assert any(torch.equal(d.train_images[i], img) and d.train_labels[i] == label for i in match)
    again = data.subset(d, n_train=1000, n_test=205, seed=1)
    assert torch.equal(again.train_images, s.train_images)
    other = data.subset(d, n_train=1000, n_test=205, seed=2)
    assert not torch.equal(other.train_images, s.train_images)
    assert data.subset(d, n_train=None, n_test=100).train_images.shape[0] == 50_000


# ----------------------------------------------------------------------------------------------
# Augmentation matches its definition
# ----------------------------------------------------------------------------------------------

def test_random_flip_flips_about_half():
    x = torch.randint(0, 256, (400, 3, 32, 32), dtype=torch.uint8)
    out = data.random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out == torch.flip(x, [3])).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert (flipped ^ kept).all(), "every image is either itself or its mirror image"
    assert 150 < flipped.sum() < 250


def test_random_crop_is_an_in_bounds_translation_of_the_padded_image():
    # every pixel value unique (int32), so an output pins down where it was cut
    x = torch.arange(64 * 3 * 32 * 32, dtype=torch.int32).view(64, 3, 32, 32) + 1
    out = data.random_crop(x, padding=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    offsets = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(9) for dx in range(9)
                if torch.equal(out[i], padded[i, :, dy:dy + 32, dx:dx + 32])]
        assert len(hits) == 1, f"image {i} is not one window of its padded self"
        offsets.add(hits[0])
    assert len(offsets) > 20, "offsets should vary between images"
    u8 = data.random_crop(torch.full((8, 3, 32, 32), 7, dtype=torch.uint8), 4,
                          torch.Generator().manual_seed(0))
    assert set(u8.unique().tolist()) <= {0, 7}, "the uncovered border is zero, nothing else"


def test_pca_of_matches_the_pixel_covariance():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(200, 3, 8, 8, generator=g) * 128 + torch.rand(200, 1, 1, 1, generator=g) * 127)
    x = x.to(torch.uint8)
    eigvals, eigvecs = data.pca_of(x, chunk=64)
    pixels = x.permute(1, 0, 2, 3).reshape(3, -1).double() / 255
    cov = torch.cov(pixels, correction=0)
    assert torch.all(eigvals[:-1] >= eigvals[1:]), "descending"
    assert torch.allclose(eigvecs.T @ eigvecs, torch.eye(3), atol=1e-5)
    assert torch.allclose((eigvecs @ torch.diag(eigvals) @ eigvecs.T).double(), cov, atol=1e-6)


def test_pca_colour_jitter_shifts_colour_not_structure():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 32, 32, generator=g)
    eigvals, eigvecs = torch.tensor([0.2, 0.02, 0.005]), torch.linalg.qr(torch.randn(3, 3, generator=g))[0]
    out = data.pca_colour_jitter(x, eigvals, eigvecs, std=0.1, generator=torch.Generator().manual_seed(1))
    shift = out - x
    # one RGB offset per image, the same at every pixel: edges and textures are untouched
    assert torch.allclose(shift, shift[:, :, :1, :1].expand_as(shift), atol=1e-6)
    offsets = shift[:, :, 0, 0]
    assert (offsets.abs().sum(1) > 0).all() and not torch.allclose(offsets[0], offsets[1])
    # and the offset is [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T with a ~ N(0, 0.1) drawn per image
    alpha = (offsets @ eigvecs) / eigvals
    expected = torch.randn(16, 3, generator=torch.Generator().manual_seed(1)) * 0.1
    assert torch.allclose(alpha, expected, atol=1e-4)


def test_normalise_and_denormalise_invert_each_other():
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    z = data.normalise(x)
    assert z.dtype == torch.float32
    manual = (x.float() / 255 - torch.tensor(data.CIFAR10_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        data.CIFAR10_STD).view(1, 3, 1, 1)
    assert torch.allclose(z, manual, atol=1e-5)
    assert torch.allclose(data.normalise(x.float() / 255), z, atol=1e-5)
    assert torch.allclose(data.denormalise(z) * 255, x.float(), atol=1e-3)


# ----------------------------------------------------------------------------------------------
# DeviceLoader
# ----------------------------------------------------------------------------------------------

def test_loader_keeps_labels_with_their_images_through_shuffle_crop_and_flip():
    labels = torch.arange(1000) % 10
    images = label_images(labels)
    loader = data.DeviceLoader(images, labels, 128, train=True, device="cpu", seed=3)
    assert len(loader) == 1000 // 128
    seen = 0
    for x, y in loader:
        assert x.dtype == torch.float32 and x.shape == (128, 3, 32, 32) and y.dtype == torch.int64
        centre = (data.denormalise(x)[:, :, 12:20, 12:20] * 255).round()  # never reached by the pad
        assert torch.equal(centre, (y * 20 + 10).float()[:, None, None, None].expand_as(centre))
        seen += len(y)
    assert seen == 1000 // 128 * 128


def test_loader_crop_and_flip_together_give_a_window_of_the_image_or_of_its_mirror():
    """The loader crops and flips in one step: check each output against the definition."""
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    loader = data.DeviceLoader(images, torch.arange(64), 64, train=True, device="cpu", seed=1)
    x, index = next(iter(loader))
    got = (data.denormalise(x) * 255).round().to(torch.uint8)
    kinds = []
    for out, i in zip(got, index):
        padded = torch.nn.functional.pad(images[i], (4, 4, 4, 4))
        hits = [(flip, dy, dx) for flip in (False, True) for dy in range(9) for dx in range(9)
                if torch.equal(out, torch.flip(padded[:, dy:dy + 32, dx:dx + 32], [2]) if flip
                               else padded[:, dy:dy + 32, dx:dx + 32])]
        assert len(hits) == 1, f"image {int(i)} is not one window of its padded self or mirror"
        kinds.append(hits[0])
    assert 16 < sum(flip for flip, _, _ in kinds) < 48
    assert len({(dy, dx) for _, dy, dx in kinds}) > 20


def test_loader_reproducible_reshuffled_and_plain_in_test_mode():
    labels = torch.arange(300) % 10
    images = torch.randint(0, 256, (300, 3, 32, 32), dtype=torch.uint8)

    def epochs(seed, n=2):
        loader = data.DeviceLoader(images, labels, 100, train=True, device="cpu", seed=seed,
                                   augment=("crop", "flip", "pca"))
        return [[(x.clone(), y.clone()) for x, y in loader] for _ in range(n)]

    a, b, c = epochs(0), epochs(0), epochs(1)
    for (xa, ya), (xb, yb) in zip(a[0] + a[1], b[0] + b[1]):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(a[0][0][1], c[0][0][1]), "another seed, another order"
    assert not torch.equal(a[0][0][1], a[1][0][1]), "each epoch reshuffles"

    test = data.DeviceLoader(images, labels, 128, train=False, device="cpu")
    assert len(test) == 3                                  # the last, short batch is kept
    xs, ys = zip(*test)
    assert torch.equal(torch.cat(ys), labels)
    assert torch.allclose(torch.cat(xs), data.normalise(images))


def test_loader_callable_augment_resize_and_channels_last():
    labels = torch.arange(20) % 10
    images = label_images(labels)
    calls = []

    def darken(x, generator):
        calls.append(x.dtype)
        return x * 0.5

    loader = data.DeviceLoader(images, labels, 10, train=True, device="cpu", augment=darken,
                               resize=64, channels_last=True)
    x, y = next(iter(loader))
    assert calls == [torch.float32]
    assert x.shape == (10, 3, 64, 64) and x.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(data.denormalise(x) * 255 * 2, (y * 20 + 10).float()[:, None, None, None]
                          .expand_as(x), atol=1e-3)
    with pytest.raises(ValueError, match="unknown augmentation"):
        data.DeviceLoader(images, labels, 10, train=True, device="cpu", augment=("cutout",))

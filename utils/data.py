"""CIFAR-10 as uint8 tensors, cached in one file; batches and augmentation on the device.

Why this module exists: on a free Colab T4 (2 vCPUs) the classic pipeline -- a ``Dataset`` of PIL
images, per-image transforms, a ``DataLoader`` with worker processes -- spends more time cropping
and flipping single 32x32 images in Python than the GPU spends training on them. CIFAR-10 is small
(60,000 x 3 x 32 x 32 bytes = 184 MB), so we keep all of it on the device as uint8 and do the
augmentation on whole batches with tensor operations, as airbench (Jordan, 2024) and David Page's
DAWNBench entries do. ``benchmarks/bench_pipeline.py`` measures the difference.

Where the data comes from (``load_cifar10``), in this order:

1. the cache ``cifar10-uint8.pt`` in the data folder, checked against its sha256 checksum;
2. a copy already on disk: the official files that torchvision downloads (``cifar-10-batches-py``
   or ``cifar-10-python.tar.gz``), or a class-folder copy (``train/<class>/*.png|jpg`` and
   ``test/<class>/...``, as other mirrors ship it), as a folder or as a ``.tar.gz`` of one, in
   the data folder or ``$CIFAR10_DIR``, or the project's offline JPEG copy
   ``../shared/data/cifar10-jpeg.tar.gz`` beside the repository;
3. the official download, ``torchvision.datasets.CIFAR10(folder, download=True)`` (163 MB).

Whatever was found is written to the cache, so later runs load it in a fraction of a second
(measured on a 2-core machine: importing the 60,000 JPEGs of the offline copy takes 7 s, with
two decoding processes, against 11 s in one; loading the cache takes 0.3 s, checksum included).
The data folder is the ``root`` argument, else ``$CIFAR10_DIR``, else the user cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``cnn-history``). On Colab, where the machine forgets
everything when it disconnects, mount Google Drive and point ``CIFAR10_DIR`` at a folder there
(``os.environ["CIFAR10_DIR"] = "/content/drive/MyDrive/cifar10"``) to download only once.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import time
import urllib.error
import zlib
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from utils.hardware import device as default_device
# A path as printed (never an absolute path of this machine), and writing without half a file:
# one of each, in utils.results.
from utils.results import atomic_write
from utils.results import shown as _show

__all__ = [
    "CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10", "DataUnavailable", "load_cifar10",
    "subset", "DeviceLoader", "random_crop", "random_flip", "pca_of", "pca_colour_jitter",
    "normalise", "denormalise", "data_dir",
]

#: The ten classes in the official label order (0..9), which is alphabetical.
CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")

#: Per-channel mean and standard deviation of the official training images, on the 0..1 scale.
#: (Some popular code uses a std of (0.2023, 0.1994, 0.2010): that is the mean of the per-image
#: standard deviations, not the standard deviation of the pixels.)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

CACHE_NAME = "cifar10-uint8.pt"
_CACHE_FORMAT = 1
_REPO_ROOT = Path(__file__).resolve().parent.parent

#: The project's offline copy (machines that build the course have no internet). Tests may
#: replace this list to simulate a machine without it.
OFFLINE_COPIES = [_REPO_ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"]
_OFFLINE_COPY_SHA256 = "d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965"
_OFFLINE_SOURCE = ("CIFAR-10, offline JPEG copy (re-encoded at JPEG quality 75: accuracies run "
                   "slightly lower than on the official files)")
#: Where the official archive lies: what torchvision downloads, and what to fetch by hand offline.
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_OFFICIAL_ARCHIVE = "cifar-10-python.tar.gz"
_OFFICIAL_FOLDER = "cifar-10-batches-py"
_OFFICIAL_SOURCE = "CIFAR-10, official files (torchvision.datasets.CIFAR10, www.cs.toronto.edu/~kriz)"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class DataUnavailable(RuntimeError):
    """CIFAR-10 was found nowhere and could not be downloaded."""


@dataclasses.dataclass
class CIFAR10:
    """CIFAR-10 (or a subset of it) as uint8 tensors, N x 3 x 32 x 32, labels int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple = CLASSES
    source: str = ""
    synthetic: bool = False
    #: How this object was obtained: "cache", "import" (built from a copy or a download and
    #: then cached), "synthetic", or "subset".
    loaded_from: str = ""

    def __repr__(self) -> str:
        return (f"CIFAR10({len(self.train_labels):,} train, {len(self.test_labels):,} test, "
                f"source={self.source!r})")


# --------------------------------------------------------------------------------------------
# Where to look
# --------------------------------------------------------------------------------------------

def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else ``$CIFAR10_DIR``, else the user cache folder."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("CIFAR10_DIR"):
        return Path(os.environ["CIFAR10_DIR"]).expanduser()
    return _user_cache_dir()


def _user_cache_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache_home) / "cnn-history"


def _search_dirs(root) -> list[Path]:
    """Where a copy may sit: the data folder first, then $CIFAR10_DIR and the user cache folder."""
    dirs = [data_dir(root)]
    if os.environ.get("CIFAR10_DIR"):
        dirs.append(Path(os.environ["CIFAR10_DIR"]).expanduser())
    dirs.append(_user_cache_dir())
    return list(dict.fromkeys(dirs))


# --------------------------------------------------------------------------------------------
# The cache: one file of uint8 tensors with a checksum
# --------------------------------------------------------------------------------------------

_TENSOR_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def _checksum(tensors: Sequence[torch.Tensor]) -> str:
    """sha256 of the tensors' bytes, in order (about 0.1 s for all of CIFAR-10)."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.contiguous().numpy().reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _write_cache(path: Path, data: CIFAR10) -> None:
    """Write atomically (``utils.results.atomic_write``): a temporary file, then a rename."""
    tensors = [getattr(data, k) for k in _TENSOR_KEYS]
    payload = {k: t.contiguous() for k, t in zip(_TENSOR_KEYS, tensors)}
    payload.update(format=_CACHE_FORMAT, classes=list(data.classes), source=data.source,
                   sha256=_checksum(tensors))
    atomic_write(path, lambda f: torch.save(payload, f))


def _read_cache(path: Path) -> CIFAR10:
    """Load and verify the cache; raise ValueError saying what is wrong with it."""
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # truncated zip, bad pickle, ...: all mean "corrupt"
        raise ValueError(f"it does not load ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != _CACHE_FORMAT:
        raise ValueError("it has an unknown format")
    tensors = [payload.get(k) for k in _TENSOR_KEYS]
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        raise ValueError("tensors are missing")
    if _checksum(tensors) != payload.get("sha256"):
        raise ValueError("its checksum does not match")
    train_images, train_labels, test_images, test_labels = tensors
    for images, labels in ((train_images, train_labels), (test_images, test_labels)):
        if (images.dtype != torch.uint8 or images.shape[1:] != (3, 32, 32)
                or labels.dtype != torch.int64 or labels.shape != images.shape[:1]):
            raise ValueError("its tensors have the wrong shapes or types")
    if not isinstance(payload.get("source"), str) or len(payload.get("classes", ())) != 10:
        raise ValueError("its description is missing")
    return CIFAR10(*tensors, classes=tuple(payload["classes"]), source=payload["source"],
                   synthetic=False, loaded_from="cache")


# --------------------------------------------------------------------------------------------
# Copies on disk: the official files, or a class-folder layout (a folder or a .tar.gz of it)
# --------------------------------------------------------------------------------------------

def _from_torchvision(folder: Path, download: bool) -> CIFAR10:
    """Read (and, with ``download``, first fetch) the official files with torchvision.

    Without ``download``, the archive lying in ``folder`` is unpacked when its folder is
    missing or incomplete (torchvision checks each file's md5)."""
    archive = folder / _OFFICIAL_ARCHIVE
    if not download and archive.is_file():
        try:
            return _read_official(folder, download=False)
        except RuntimeError:              # torchvision: "Dataset not found or corrupted"
            _unpack_official(archive)
    return _read_official(folder, download)


def _unpack_official(archive: Path) -> None:
    """Unpack the official archive beside it, through a temporary folder, so that an archive
    cut short (a download that stopped part-way) leaves no half-unpacked folder and is named
    as such, instead of a bare "not a gzip file" or "Compressed file ended ..."."""
    import shutil

    import torchvision

    folder, scratch = archive.parent, archive.parent / f".unpacking-{os.getpid()}"
    try:
        torchvision.datasets.utils.extract_archive(str(archive), str(scratch))
        shutil.rmtree(folder / _OFFICIAL_FOLDER, ignore_errors=True)   # a half-unpacked one
        os.replace(scratch / _OFFICIAL_FOLDER, folder / _OFFICIAL_FOLDER)
    except (EOFError, gzip.BadGzipFile, tarfile.TarError, zlib.error) as exc:
        raise ValueError(f"{_show(archive)} is incomplete or damaged, perhaps a download cut "
                         f"short [{exc}]: delete it and try again") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _read_official(folder: Path, download: bool) -> CIFAR10:
    """The official files in ``folder`` (``cifar-10-batches-py``) through torchvision."""
    import torchvision

    parts = []
    for train in (True, False):
        ds = torchvision.datasets.CIFAR10(str(folder), train=train, download=download)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        parts += [images, torch.tensor(ds.targets, dtype=torch.int64)]
    if tuple(ds.classes) != CLASSES:
        raise ValueError(f"unexpected classes {ds.classes}")
    return CIFAR10(*parts, classes=CLASSES, source=_OFFICIAL_SOURCE)


_MEMBER = re.compile(r"(?:^|/)(train|test)/([^/]+)/([^/]+)$")


def _decode(blobs: list[bytes]) -> np.ndarray:
    """Decode encoded images (PNG/JPEG) with PIL into an N x 32 x 32 x 3 uint8 array."""
    from PIL import Image

    out = np.empty((len(blobs), 32, 32, 3), dtype=np.uint8)
    for i, blob in enumerate(blobs):
        with Image.open(io.BytesIO(blob)) as im:
            if im.size != (32, 32):
                raise ValueError(f"an image is {im.size[0]}x{im.size[1]}, not 32x32")
            out[i] = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    return out


def _iter_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the image files of a class-folder copy: a folder or a tar archive.

    An archive is read member by member, never extracted to disk."""
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.suffix.lower() in _IMAGE_SUFFIXES and file.is_file():
                yield file.relative_to(path).as_posix(), file.read_bytes()
        return
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if member.isfile() and Path(member.name).suffix.lower() in _IMAGE_SUFFIXES:
                yield member.name, archive.extractfile(member).read()


def _decode_all(chunks: Iterator[list[bytes]]) -> list[np.ndarray]:
    """Decode chunks of images in worker processes while the next chunks are being read.

    On 2 cores this halves the import (about 7 s of decoding for the 60,000 JPEGs on one
    core). Where worker processes are unavailable it decodes in this process."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    import multiprocessing

    if (os.cpu_count() or 1) < 2:
        return [_decode(c) for c in chunks]
    method = "fork" if sys.platform.startswith("linux") else None    # fork: no re-imports
    kept, pending = [], []
    try:
        with ProcessPoolExecutor(min(4, os.cpu_count()),
                                 mp_context=multiprocessing.get_context(method)) as pool:
            for chunk in chunks:
                kept.append(chunk)
                pending.append(pool.submit(_decode, chunk))
            return [f.result() for f in pending]
    except (BrokenProcessPool, OSError):
        for chunk in chunks:                   # whatever was not read yet
            kept.append(chunk)
        return [_decode(c) for c in kept]


def _from_class_folders(path: Path) -> CIFAR10:
    """Import a class-folder copy (a folder, or an archive read without extracting it)."""
    names, labels, splits = [], [], []

    def chunks(size=2000) -> Iterator[list[bytes]]:
        chunk = []
        for name, blob in _iter_members(path):
            m = _MEMBER.search(name)
            if m is None:
                continue
            split, cls, _ = m.groups()
            if cls not in CLASSES:
                raise ValueError(f"class folder {cls!r} is not one of the CIFAR-10 classes")
            names.append(m.group(0))
            labels.append(CLASSES.index(cls))
            splits.append(split)
            chunk.append(blob)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    arrays = _decode_all(chunks())
    if not names:
        raise ValueError("it holds no train/<class>/<image> files")
    images = torch.from_numpy(np.concatenate(arrays)).permute(0, 3, 1, 2)
    labels_t = torch.tensor(labels, dtype=torch.int64)
    # A stable order, whatever the archive's: by label, then file name, within each split.
    order = sorted(range(len(names)), key=lambda i: (labels[i], names[i]))
    parts = []
    for split in ("train", "test"):
        idx = torch.tensor([i for i in order if splits[i] == split], dtype=torch.int64)
        if len(idx) == 0:
            raise ValueError(f"it has no {split}/ images")
        parts += [images[idx].contiguous(), labels_t[idx]]
    return CIFAR10(*parts, classes=CLASSES, source=_describe_copy(path, names))


def _describe_copy(path: Path, names: list[str]) -> str:
    if path.is_file() and _file_sha256(path) == _OFFLINE_COPY_SHA256:
        return _OFFLINE_SOURCE
    if any(n.lower().endswith((".jpg", ".jpeg")) for n in names[:100]):
        return (f"CIFAR-10, class-folder JPEG copy '{path.name}' (JPEG is lossy: accuracies may "
                "run slightly lower than on the official files)")
    return f"CIFAR-10, class-folder copy '{path.name}'"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _candidates(folder: Path) -> list[tuple[str, Path]]:
    """Copies of CIFAR-10 in one folder, best first: ("official" | "classes", path)."""
    found = []
    if not folder.is_dir():
        return found
    if (folder / _OFFICIAL_FOLDER).is_dir() or (folder / _OFFICIAL_ARCHIVE).is_file():
        found.append(("official", folder))
    for sub in [folder] + sorted(p for p in folder.iterdir() if p.is_dir()):
        if (sub / "train").is_dir() and (sub / "test").is_dir():
            found.append(("classes", sub))
    for archive in sorted(folder.iterdir()):
        if (archive.name.endswith((".tar.gz", ".tgz", ".tar"))
                and archive.name != "cifar-10-python.tar.gz" and archive.is_file()):
            found.append(("classes", archive))
    return found


# --------------------------------------------------------------------------------------------
# load_cifar10
# --------------------------------------------------------------------------------------------

def load_cifar10(root: str | os.PathLike | None = None, *, synthetic: bool = False) -> CIFAR10:
    """CIFAR-10 as uint8 tensors, from the cache, a copy on disk, or the official download.

    ``root`` is the data folder (default ``$CIFAR10_DIR``, else ``~/.cache/cnn-history``; on
    Colab, point ``CIFAR10_DIR`` at a Google Drive folder to keep the download across sessions),
    or the path of a copy's archive. The first call builds the cache ``cifar10-uint8.pt`` in the
    data folder (seconds from a copy, a minute or two with the download); later calls load it in
    a fraction of a second. A corrupt or truncated cache is detected (by its sha256 checksum, or
    because it does not load), rebuilt, and said in one line. Prints one line saying where the
    data came from.

    ``synthetic=True`` returns a small synthetic set (1,000 + 200 images) for unit tests only;
    its ``source`` starts with "SYNTHETIC". Nothing ever falls back to it silently.

    Raises ``DataUnavailable`` when there is no copy and no internet, saying where it looked.
    """
    if synthetic:
        data = _synthetic()
        print(data.source)
        return data
    t0 = time.perf_counter()
    folder = data_dir(root)
    if folder.is_file():                  # an archive given as root: import it, cache beside it
        root, folder = folder.parent, folder.parent
    cache = folder / CACHE_NAME
    if cache.exists():
        try:
            data = _read_cache(cache)
            print(f"CIFAR-10: {len(data.train_labels):,} training and {len(data.test_labels):,} "
                  f"test images from the cache in {_show(folder)} "
                  f"({time.perf_counter() - t0:.2f} s); source: {data.source}")
            return data
        except ValueError as why:
            print(f"The CIFAR-10 cache {_show(cache)} is corrupt ({why}): rebuilding it.")

    data, origin = _find_and_import(root)
    data.loaded_from = "import"
    try:
        _write_cache(cache, data)
        cached = f"cached in {_show(cache)}"
    except OSError as exc:
        cached = f"could not write the cache {_show(cache)} ({exc.strerror})"
    print(f"CIFAR-10: {len(data.train_labels):,} training and {len(data.test_labels):,} test "
          f"images imported from {origin} in {time.perf_counter() - t0:.1f} s, {cached}; "
          f"source: {data.source}")
    return data


def _find_and_import(root) -> tuple[CIFAR10, str]:
    looked = []
    for folder in _search_dirs(root):
        candidates = _candidates(folder)
        if not candidates:
            looked.append(f"{_show(folder)}: no " + ("cache and no " if folder == data_dir(root)
                                                     else "") + "copy")
        for kind, path in candidates:
            try:
                data = (_from_torchvision(path, download=False) if kind == "official"
                        else _from_class_folders(path))
                return data, _show(path)
            except Exception as exc:  # a broken copy: say so, and look further
                looked.append(f"{_show(path)}: unusable ({exc})")
    for copy in OFFLINE_COPIES:
        copy = Path(copy)
        if not copy.is_file():
            looked.append(f"{_show(copy)}: not there")
            continue
        try:
            return _from_class_folders(copy), _show(copy)
        except Exception as exc:
            looked.append(f"{_show(copy)}: unusable ({exc})")
    folder = data_dir(root)
    try:
        return _from_torchvision(folder, download=True), "the official download"
    except Exception as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        looked.append(f"download with torchvision.datasets.CIFAR10(download=True) failed "
                      f"({type(exc).__name__}: {reason})")
    raise DataUnavailable(
        "CIFAR-10 is not available. Looked in:\n  - " + "\n  - ".join(looked) + "\n"
        "Two ways to fix it:\n"
        "  1. connect to the internet, so torchvision can download it (163 MB, once), or\n"
        f"  2. download the official archive, {OFFICIAL_URL} (163 MB), wherever you have "
        f"internet and put it, as it is, in the data folder {_show(folder)} (or in the folder "
        "$CIFAR10_DIR names, or pass load_cifar10(root=...)). A class-folder copy (train/<class>/"
        "*.png|jpg and test/<class>/...), as a folder or a .tar.gz, works there too.")


def _synthetic(n_train: int = 1000, n_test: int = 200, seed: int = 0) -> CIFAR10:
    """A small labelled synthetic set for unit tests: each class has its own colour and stripe."""
    g = torch.Generator().manual_seed(seed)
    parts = []
    for n in (n_train, n_test):
        labels = torch.arange(n) % 10
        labels = labels[torch.randperm(n, generator=g)]
        hue = torch.rand(10, 3, generator=g) * 160 + 40
        images = hue[labels][:, :, None, None].expand(n, 3, 32, 32).clone()
        rows = torch.arange(32)[None, :] // 3 % 10 == labels[:, None]   # a stripe at row 3·label
        images += 60 * rows[:, None, :, None]
        images += torch.randn(n, 3, 32, 32, generator=g) * 20
        parts += [images.clamp(0, 255).to(torch.uint8), labels.to(torch.int64)]
    return CIFAR10(*parts, classes=CLASSES, synthetic=True, loaded_from="synthetic",
                   source=f"SYNTHETIC data for unit tests, not CIFAR-10 ({n_train:,} training and "
                          f"{n_test:,} test images)")


def subset(data: CIFAR10, n_train: int | None = None, n_test: int | None = None,
           seed: int = 0) -> CIFAR10:
    """A class-balanced random subset: ``n_train`` training and ``n_test`` test images.

    Each class gets n/10 images (the first n mod 10 classes one more). ``None`` keeps a split
    whole. The same seed gives the same subset."""
    g = torch.Generator().manual_seed(seed)

    def pick(labels: torch.Tensor, n: int | None) -> torch.Tensor:
        if n is None or n >= len(labels):
            return torch.arange(len(labels))
        k = len(data.classes)
        chosen = []
        for c in range(k):
            idx = (labels == c).nonzero().flatten()
            want = n // k + (c < n % k)
            if want > len(idx):
                raise ValueError(f"class {data.classes[c]!r} has only {len(idx)} images, "
                                 f"{want} wanted")
            chosen.append(idx[torch.randperm(len(idx), generator=g)[:want]])
        return torch.cat(chosen).sort().values

    tr, te = pick(data.train_labels, n_train), pick(data.test_labels, n_test)
    return dataclasses.replace(
        data, train_images=data.train_images[tr], train_labels=data.train_labels[tr],
        test_images=data.test_images[te], test_labels=data.test_labels[te], loaded_from="subset")


# --------------------------------------------------------------------------------------------
# Batched augmentation on the device
# --------------------------------------------------------------------------------------------

def random_crop(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """Random crop with zero padding, for a whole batch at once (any dtype, B x C x H x W).

    Pads by ``padding`` pixels on each side and cuts out an H x W window at a random offset per
    image: the image translated by up to ``padding`` pixels each way, the uncovered border black
    (zero), as ``torchvision.transforms.RandomCrop(32, padding=4)`` does one image at a time.
    All (2·padding + 1)² windows of the padded batch are a view (``unfold``, no copy); one
    indexing operation picks each image's window."""
    if padding == 0:
        return x
    b = x.shape[0]
    dy, dx = torch.randint(0, 2 * padding + 1, (2, b), generator=generator, device=x.device)
    return _windows(F.pad(x, (padding,) * 4), x.shape[-2:])[torch.arange(b, device=x.device), dy, dx]


def _windows(padded: torch.Tensor, size) -> torch.Tensor:
    """Every size-sized window of a padded batch, as a view: B x dy x dx x C x H x W."""
    return padded.unfold(2, size[0], 1).unfold(3, size[1], 1).permute(0, 2, 3, 1, 4, 5)


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image of the batch left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def _crop_and_flip(x: torch.Tensor, padding: int, generator: torch.Generator | None
                   ) -> torch.Tensor:
    """``random_flip(random_crop(x))`` in one indexing operation (the loader's fast path).

    Flipping the window at column offset dx equals taking the window at offset 2·padding − dx
    of the flipped padded image, so both versions of the padded batch are stacked and each image
    picks its window from one of them."""
    b = x.shape[0]
    padded = F.pad(x, (padding,) * 4)
    both = torch.cat([padded, padded.flip(3)])                       # 2B x C x H+2p x W+2p
    dy, dx = torch.randint(0, 2 * padding + 1, (2, b), generator=generator, device=x.device)
    flip = torch.rand(b, generator=generator, device=x.device) < 0.5
    image = torch.arange(b, device=x.device) + b * flip
    return _windows(both, x.shape[-2:])[image, dy, torch.where(flip, 2 * padding - dx, dx)]


def pca_of(images: torch.Tensor, chunk: int = 5000) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and eigenvectors (columns) of the RGB pixel covariance.

    ``images``: uint8 N x 3 x H x W (0..255) or float (0..1); the covariance is computed on the
    0..1 scale, over every pixel of every image (Krizhevsky et al. 2012, section 4.1), in float64
    and in chunks so that 50,000 images need little memory."""
    n = torch.zeros((), dtype=torch.float64)
    s = torch.zeros(3, dtype=torch.float64)
    ss = torch.zeros(3, 3, dtype=torch.float64)
    for i in range(0, len(images), chunk):
        x = images[i:i + chunk].to("cpu", torch.float64)
        if images.dtype == torch.uint8:
            x = x / 255
        x = x.permute(1, 0, 2, 3).reshape(3, -1)
        n += x.shape[1]
        s += x.sum(1)
        ss += x @ x.T
    mean = s / n
    cov = ss / n - torch.outer(mean, mean)
    eigvals, eigvecs = torch.linalg.eigh(cov)
    return eigvals.flip(0).float(), eigvecs.flip(1).float()


def pca_colour_jitter(x: torch.Tensor, eigvals: torch.Tensor, eigvecs: torch.Tensor,
                      std: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    """AlexNet's colour augmentation (Krizhevsky et al. 2012, section 4.1), for a batch.

    To every pixel of an image it adds the same RGB offset ``[p1 p2 p3][a1·l1, a2·l2, a3·l3]^T``,
    where ``p_i`` and ``l_i`` are the eigenvectors and eigenvalues from ``pca_of`` and each ``a_i``
    is drawn once per image from N(0, ``std``): the colour and brightness change, edges and
    textures do not. ``x`` is float on the 0..1 scale (B x 3 x H x W); the result is not clipped.

    Taken literally, as here, the effect is subtle: CIFAR-10's largest eigenvalue is about 0.17
    (on the 0..1 scale), so the offset along ``p1`` (roughly the brightness) has a standard
    deviation of 0.1 x 0.17 = 0.017, about 4 of 255 grey levels. Pass a larger ``std`` to see it.
    (The paper does not say on which scale it took the eigenvalues; some re-implementations scale
    by the square roots, the standard deviations, instead.)"""
    alpha = torch.randn(x.shape[0], 3, generator=generator, device=x.device) * std
    offset = (alpha * eigvals.to(x.device)) @ eigvecs.to(x.device).T      # B x 3
    return x + offset[:, :, None, None].to(x.dtype)


def normalise(x: torch.Tensor, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """Float32, standardised per channel: ``(x - mean) / std``.

    uint8 input (0..255) is divided by 255 first; float input is taken to be on the 0..1 scale.
    One fused multiply-add per pixel: ``x · (1/std) + (−mean/std)``."""
    scale, shift = _affine(mean, std, x.device, x.dtype == torch.uint8)
    return torch.addcmul(shift, x.float(), scale)


def _affine(mean, std, device, from_uint8: bool) -> tuple[torch.Tensor, torch.Tensor]:
    scale = 1 / torch.tensor(std, device=device).view(1, -1, 1, 1)
    shift = -torch.tensor(mean, device=device).view(1, -1, 1, 1) * scale
    return (scale / 255 if from_uint8 else scale), shift


def denormalise(x: torch.Tensor, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """Undo ``normalise``: back to float on the 0..1 scale (for showing images)."""
    scale, shift = _affine(mean, std, x.device, False)
    return (x - shift) / scale


# --------------------------------------------------------------------------------------------
# DeviceLoader
# --------------------------------------------------------------------------------------------

class DeviceLoader:
    """Batches of a whole dataset kept on the device, augmented there a batch at a time.

    The uint8 images and the labels are moved to ``device`` once (all of CIFAR-10 is 184 MB).
    Every ``iter()`` is one epoch: when ``train``, a fresh shuffle, then for each batch a random
    crop with ``padding`` and a horizontal flip (both on uint8, in one indexing operation), the
    conversion to float, AlexNet's PCA colour jitter if asked for, normalisation with ``mean`` and
    ``std``, a resize if asked for, channels_last if asked for. ``train=False`` (test mode) keeps
    the order and does no augmentation. Yields ``(x, y)``: x float32 B x 3 x H x W, normalised;
    y int64.

    ``augment``: a tuple of "crop", "flip", "pca" (the built-ins), or a callable
    ``f(x, generator) -> x`` on float batches on the 0..1 scale (before normalisation), or None.
    ``seed``: the loader has its own ``torch.Generator`` on the device, so two loaders with the
    same seed on the same kind of device give the same batches, whatever else uses the global
    random state (``loader.generator`` can be saved and restored to resume mid-run).
    ``drop_last`` defaults to ``train``: training batches all have ``batch_size`` images (a set
    smaller than one batch still gives one batch); in test mode every image is used.
    ``pca``: (eigvals, eigvecs) for the "pca" augmentation; by default ``pca_of(images)``.

    ``resize``: an output size for networks that need a larger input (e.g. 64 or 224), done per
    batch with ``F.interpolate`` (bilinear) after the augmentation. The stored set stays 32x32
    uint8, so the memory for the data does not grow; each batch does, with the square of the
    side: at 224 a batch of 128 images is 128·3·224·224·4 B = 77 MB instead of 1.6 MB, and the
    network's activations and compute grow 49-fold too. Measured on a 2-core CPU, per batch of
    512: crop + flip + normalise 5 ms, resizing to 64 another 21 ms, resizing to 224 another
    280 ms (0.55 ms an image: still small beside a 224x224 network's step on that CPU). On a GPU
    it is a negligible part of a training step. ``benchmarks/bench_pipeline.py`` measures it.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *,
                 train: bool, device: torch.device | str | None = None,
                 augment: Sequence[str] | Callable | None = ("crop", "flip"), seed: int = 0,
                 resize: int | tuple[int, int] | None = None, channels_last: bool = False,
                 drop_last: bool | None = None, padding: int = 4,
                 pca: tuple[torch.Tensor, torch.Tensor] | None = None, pca_std: float = 0.1,
                 mean=CIFAR10_MEAN, std=CIFAR10_STD):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise TypeError(f"images must be uint8 N x C x H x W, got {images.dtype} "
                            f"{tuple(images.shape)}")
        if len(images) != len(labels) or len(images) == 0:
            raise ValueError(f"{len(images)} images and {len(labels)} labels: need as many "
                             "labels as images, and at least one")
        augment = augment if train else None
        if augment is not None and not callable(augment):
            augment = tuple(augment)
            unknown = set(augment) - {"crop", "flip", "pca"}
            if unknown:
                raise ValueError(f"unknown augmentation {sorted(unknown)}: use 'crop', 'flip', "
                                 "'pca', or a callable f(x, generator)")
        self.device = torch.device(device) if device is not None else default_device()
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size, self.train, self.augment = batch_size, train, augment
        self.padding, self.pca_std = padding, pca_std
        if augment is not None and not callable(augment) and "pca" in augment:
            self.pca = tuple(t.to(self.device) for t in (pca if pca is not None else pca_of(images)))
        else:
            self.pca = None
        self.resize = (resize, resize) if isinstance(resize, int) else resize
        self.channels_last = channels_last
        self.drop_last = train if drop_last is None else drop_last
        self.mean, self.std = mean, std
        self._u8 = _affine(mean, std, self.device, True)       # normalisation of uint8 batches
        self._f32 = _affine(mean, std, self.device, False)     # ... and of float ones
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.labels)
        if self.drop_last and n >= self.batch_size:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = (torch.randperm(n, generator=self.generator, device=self.device) if self.train
                 else None)
        for i in range(len(self)):
            sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
            if order is None:
                yield self._prepare(self.images[sl]), self.labels[sl]
            else:   # index_select copies whole images (fast); x[idx] goes element by element
                idx = order[sl]
                yield (self._prepare(self.images.index_select(0, idx)),
                       self.labels.index_select(0, idx))

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        g, aug = self.generator, self.augment or ()
        if callable(aug):
            x = aug(x.float() / 255, g)
        else:
            if "crop" in aug and "flip" in aug and self.padding > 0:
                x = _crop_and_flip(x, self.padding, g)
            elif "crop" in aug:
                x = random_crop(x, self.padding, g)
            elif "flip" in aug:
                x = random_flip(x, g)
            if "pca" in aug:
                x = pca_colour_jitter(x.float() / 255, *self.pca, std=self.pca_std, generator=g)
        scale, shift = self._u8 if x.dtype == torch.uint8 else self._f32
        x = torch.addcmul(shift, x.float(), scale)
        if self.resize is not None and tuple(x.shape[-2:]) != tuple(self.resize):
            x = F.interpolate(x, size=self.resize, mode="bilinear", align_corners=False)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def __repr__(self) -> str:
        return (f"DeviceLoader({len(self.labels):,} images on {self.device}, batch "
                f"{self.batch_size}, {len(self)} batches, train={self.train}, "
                f"augment={self.augment!r})")

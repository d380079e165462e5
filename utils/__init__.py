"""Shared code of the course "Convolutional networks, from AlexNet to EfficientNet".

One flat module per concern, imported explicitly by the chapters:

- ``utils.arithmetic``: output sizes, parameters and multiply-adds, worked out as text and
  checked against the real modules; ``summary(model, input_size)`` for a whole network.
- ``utils.explorer``: an interactive convolution explorer (ipywidgets).
- ``utils.data``: CIFAR-10 as uint8 tensors, cached in one file; batches and augmentation on
  the device.
- ``utils.train``: budgets, ``fit``, evaluation, checkpoints; how a network is trained is a
  ``Recipe`` (``utils.recipe``: optimiser, schedule, auxiliary losses, moving average).
- ``utils.results``: the results records' schema and reader, and where results and
  checkpoints are kept (paths shown without the machine's absolute paths, atomic writes).
- ``utils.notebook``: notebook plumbing (is this a notebook, widgets with a static text,
  figures as PNG, the training progress reporter); ``utils.hardware``: the device.
- ``utils.plot``: the course's figures; ``plot.architecture`` and ``plot.block`` come from
  ``utils.diagram`` (network diagrams drawn from the model's own forward pass), the look from
  ``utils.style``.
- ``utils.layers``: the blocks and networks that the chapters introduce, in their final form;
  a package with one module per family (``lenet``, ``alexnet``, ``zfnet``, ``nin``, ``vgg``),
  ``common`` for blocks later families share, and ``same_as_reference``, the check that a
  network is the reference implementation.

Nothing heavy is imported here, so ``import utils`` is instant. The package is used from the
repository's root on ``sys.path`` (every chapter's set-up cell arranges this), never installed
into site-packages, where a top-level package called ``utils`` would collide with others.
"""

__version__ = "0.1.0"

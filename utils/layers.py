"""Blocks that the chapters introduce, in the final form that later chapters import.

Each block is developed step by step in its chapter; the version here is the one that later
chapters use, and a test shows that the two agree (same parameters, same output for the same
weights). Names follow the papers.
"""

import torch
from torch import nn

# --- LeNet-5 (LeCun et al., 1998): chapters/00_lenet5.ipynb -------------------------------------

# --- AlexNet (Krizhevsky, Sutskever & Hinton, 2012): chapters/01_alexnet.ipynb ------------------

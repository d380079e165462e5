"""Output sizes, parameters and multiply-adds, worked out in full and checked against PyTorch.

What a chapter imports (``import utils.arithmetic as ar``); the code lives in three modules:

- :mod:`utils.formulas`, the formulas a student reads: ``conv_out``, ``pool_out``,
  ``conv_params``, ``linear_params``, ``bn_params``, ``se_params``, ``depthwise_params``,
  ``conv_macs``, ``linear_macs``, ``rf_step``. Each returns a :class:`Worked` number: the value
  *and* the sentence that derives it, so a chapter can print "(227 − 11 + 2·0)/4 + 1 = 55"
  instead of typing it. ``fmt``, ``fmt_big`` and ``fmt_bytes`` write numbers as the course does.
- :mod:`utils.summary`: ``summary`` builds the layer table of a whole network from a real
  forward pass and checks itself (output shapes against the formulas, parameters against
  ``model.parameters()``, multiply-adds against ``torch.utils.flop_counter.FlopCounterMode``);
  ``compare`` puts several networks side by side; ``check_fits`` turns PyTorch's shape errors
  into a sentence naming the layer and the arithmetic that fails.
- :mod:`utils.receptive`: ``receptive_field`` follows the receptive field and the jump (the
  stride in input pixels) through a network.

What each kind of layer means to them (its formulas, its words) is written once, in
:mod:`utils.kinds`. Conventions: 1 MAC = one multiply-add = 2 FLOPs; sizes are per example,
without the batch dimension; memory is in bytes of fp32, 1 MB = 10⁶ bytes.
"""

from utils.formulas import (NoOutput, Worked, bn_params, conv_macs, conv_out, conv_params,
                            depthwise_params, fmt, fmt_big, fmt_bytes, linear_macs, linear_params,
                            pool_out, rf_step, se_params)
from utils.receptive import ReceptiveField, RFRow, receptive_field
from utils.summary import (Comparison, Row, ShapeError, Summary, SummaryMismatch, check_fits, compare,
                           summary)

__all__ = [
    "Worked", "conv_out", "pool_out", "conv_params", "linear_params", "bn_params", "se_params",
    "depthwise_params", "conv_macs", "linear_macs", "rf_step", "fmt", "fmt_big", "fmt_bytes",
    "summary", "Summary", "Row", "SummaryMismatch", "compare", "Comparison", "receptive_field",
    "ReceptiveField", "RFRow", "ShapeError", "check_fits", "NoOutput",
]

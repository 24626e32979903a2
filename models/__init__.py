"""The bayescale law catalogue, installed as ``bayescale.models``: one flat module per law family.

Importing this package registers every law (``bs.laws()`` lists them).
"""

from bayescale.models import batch, downstream, loss_scaling, loss_to_loss

__all__ = ["batch", "downstream", "loss_scaling", "loss_to_loss"]

"""srb's torch side: models, the ``Codec`` API, the ``srb`` command line and training.

Importing ``codec`` does not import torch; the modules that need it do so themselves, so that
``srb info`` stays fast and works from the bitstream alone.
"""

__version__ = "0.1.0"

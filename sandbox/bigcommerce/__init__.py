"""BigCommerce REST API simulator.

The package's public names; the simulator itself is :mod:`sandbox.bigcommerce.simulator`.
"""

from sandbox.bigcommerce.simulator import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_STORE_HASH,
    DEFAULT_STORE_ID,
    BcConfig,
    BcError,
    BcSimulator,
)

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_STORE_HASH",
    "DEFAULT_STORE_ID",
    "BcConfig",
    "BcError",
    "BcSimulator",
]

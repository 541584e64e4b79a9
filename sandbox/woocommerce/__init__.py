"""WooCommerce REST API simulator.

The package's public names; the simulator itself is :mod:`sandbox.woocommerce.simulator`.
"""

from sandbox.woocommerce.simulator import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_KEY_OWNER,
    WooConfig,
    WooSimulator,
)

__all__ = [
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "DEFAULT_KEY_OWNER",
    "WooConfig",
    "WooSimulator",
]

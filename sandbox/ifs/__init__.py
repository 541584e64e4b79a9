"""IFS Cloud simulator: IAM token endpoint and OData v4 projections over HTTP.

The package's public names; the simulator itself is :mod:`sandbox.ifs.simulator`.
"""

from sandbox.ifs.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REALM,
    IfsConfig,
    IfsSimulator,
    ServerThread,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REALM",
    "IfsConfig",
    "IfsSimulator",
    "ServerThread",
]

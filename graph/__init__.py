"""graph: the one place ccbridge talks to Microsoft Graph and the identity platform.

Only this package imports ``msal`` and ``requests``. It returns typed
dataclasses and raises the typed errors of :mod:`graph.errors`; it knows
nothing about Django, and nothing about the simulator beyond a URL.
"""

from importlib import metadata

try:
    __version__ = metadata.version("ccbridge")
except metadata.PackageNotFoundError:  # a source checkout, not an installed package
    __version__ = "0.1.0"

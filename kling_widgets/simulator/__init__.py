"""The built-in simulator: a real local HTTP server speaking the service contract (see ``server``).

``python -m kling_widgets.simulator`` serves one from the command line.
"""

from .server import Fault, RecordedRequest, Simulator

__all__ = ["Fault", "RecordedRequest", "Simulator"]

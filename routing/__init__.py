"""The domain: owners, routing decisions, the task lifecycle, the outbox and its worker.

`from routing import IntegrationUtility` is the entry point everything else calls.
"""

from routing.utility import IntegrationUtility

__all__ = ["IntegrationUtility"]

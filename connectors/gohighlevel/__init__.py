"""GoHighLevel (LeadConnector API v2) connector: one instance per location."""

from connectors.gohighlevel.auth import CallbackTokenStore, FileTokenStore, OAuthTokens
from connectors.gohighlevel.config import GoHighLevelConfig
from connectors.gohighlevel.connector import GoHighLevelConnector

__all__ = [
    "CallbackTokenStore",
    "FileTokenStore",
    "GoHighLevelConfig",
    "GoHighLevelConnector",
    "OAuthTokens",
]

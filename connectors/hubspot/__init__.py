"""HubSpot CRM connector (CRM v3 objects API): contacts in, scores and tasks out."""

from connectors.hubspot.config import HubSpotConfig, PipelineMode, ScoreProperties
from connectors.hubspot.connector import HubSpotConnector

__all__ = ["HubSpotConfig", "HubSpotConnector", "PipelineMode", "ScoreProperties"]

"""Numerics of zBO: schedules, schedule VAE, latent grid, surrogate, objectives, campaign.

Imports no Qt and starts no threads; heavy dependencies (torch, pyro, botorch) are imported by
the functions that need them, so ``import zbo_gui.core`` is quick and works headless.
"""

from zbo_gui.core.config import CampaignConfig, demo_config, load_config, quick_config
from zbo_gui.core.errors import (
    CampaignError,
    CampaignFileError,
    ConfigError,
    DatasetError,
    ScheduleError,
    ZboError,
)
from zbo_gui.core.types import (
    Controls,
    Evaluation,
    EvaluationStatus,
    ObjectiveResult,
    Progress,
    Proposal,
    ProposalSource,
)

__all__ = [
    "CampaignConfig",
    "CampaignError",
    "CampaignFileError",
    "ConfigError",
    "Controls",
    "DatasetError",
    "Evaluation",
    "EvaluationStatus",
    "ObjectiveResult",
    "Progress",
    "Proposal",
    "ProposalSource",
    "ScheduleError",
    "ZboError",
    "demo_config",
    "load_config",
    "quick_config",
]

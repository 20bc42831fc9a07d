"""Storage: the campaign file (HDF5; schema, versioning, append, resume) and exports. No Qt."""

from zbo_gui.storage.campaign_file import FORMAT_VERSION, MIGRATIONS, STAGES, CampaignStore
from zbo_gui.storage.export import (
    FORMATS,
    export_csv,
    export_json,
    export_npy,
    training_snippet,
    write_export,
)

__all__ = [
    "FORMATS",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "STAGES",
    "CampaignStore",
    "export_csv",
    "export_json",
    "export_npy",
    "training_snippet",
    "write_export",
]

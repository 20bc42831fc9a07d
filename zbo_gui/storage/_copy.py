"""Save as: a campaign file copied whole, published beside its target like a new one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage import _files, _lease


def copy_campaign(source: Path, target: Path, overwrite: bool) -> None:
    """Copy the (flushed) campaign file ``source`` to ``target`` through a temporary file
    beside it, with the copy's writer lease freed (this process holds the original's).

    The caller checked that ``target`` may be replaced (``_paths.check_new_campaign``).

    Raises:
        CampaignFileError: the copy cannot be written or published; nothing is left behind.
    """
    tmp = _files.temporary_next_to(target)
    try:
        shutil.copyfile(source, tmp)
        offset = _lease.file_offset(tmp)
        if offset is not None:
            fd = os.open(tmp, os.O_RDWR)
            try:
                os.pwrite(fd, np.zeros(1, _lease.RECORD).tobytes(), offset)
            finally:
                os.close(fd)
        _files.publish(tmp, target, overwrite=overwrite)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CampaignFileError(f"{target}: cannot copy the campaign there"
                                f" ({_files.problem(exc)})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

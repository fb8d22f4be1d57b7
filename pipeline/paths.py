"""Where the project keeps things: one definition of each folder.

``PIPELINE_HOME`` moves them all (default: the checkout this package lives in).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("PIPELINE_HOME", Path(__file__).resolve().parent.parent))
DATA = ROOT / "data"
MODELS = ROOT / "models"

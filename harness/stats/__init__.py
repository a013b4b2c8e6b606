"""Paired statistics shared by the optimisation gate and `harness compare`."""

from harness.stats.paired import (
    BootstrapResult,
    TestResult,
    cluster_bootstrap,
    cmh_test,
    paired_bootstrap,
    sign_test,
)
from harness.stats.power import expected_score_gain, keep_rate, smallest_detectable_gain

__all__ = [
    "BootstrapResult",
    "TestResult",
    "cluster_bootstrap",
    "cmh_test",
    "expected_score_gain",
    "keep_rate",
    "paired_bootstrap",
    "sign_test",
    "smallest_detectable_gain",
]

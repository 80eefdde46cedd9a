"""Binomial confidence bounds (exact Clopper-Pearson, by bisection on the binomial tail; no SciPy)."""
import math


def _binom_cdf(k, n, p):
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if k >= n else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(0, k + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)
    return min(1.0, total)


def clopper_pearson_upper(k, n, confidence=0.95):
    """Upper end of the two-sided exact interval for k successes in n trials (one-sided level
    1 - (1 - confidence)/2, i.e. 97.5% for 95%): the p at which P(X <= k) = (1 - confidence)/2."""
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    alpha = (1 - confidence) / 2
    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _binom_cdf(k, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi

"""Translation hooks for `meshpilot serve --test-translation-hook`: force what Envoy rejects."""

from __future__ import annotations

import dataclasses
import time

from meshpilot.model.proxy import Proxy
from meshpilot.translator import Translation


def negative_timeout_for_nack_me(proxy: Proxy, t: Translation) -> Translation:
    """Clusters of any service whose host contains `nack-me` get a negative connect timeout,
    which Envoy's proto validation refuses (connect_timeout must be > 0): a CDS NACK."""
    clusters = []
    for c in t.clusters:
        if "nack-me" in c.name:
            c = type(c).FromString(c.SerializeToString())
            c.connect_timeout.seconds = -1
        clusters.append(c)
    return dataclasses.replace(t, clusters=tuple(clusters))


def slow_when_marked(proxy: Proxy, t: Translation) -> Translation:
    """Three seconds of translation while a service named `slow` exists."""
    if any(c.name.endswith("|slow.default.svc.cluster.local") for c in t.clusters):
        time.sleep(3)
    return t

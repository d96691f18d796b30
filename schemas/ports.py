"""Default loopback ports of a local stack: the one home for them, shared by the services that
listen (simulators, gateway, broker, connector metrics) and the clients that find them."""

from __future__ import annotations

BROKER = 19092
API = 18080
SIMULATORS: dict[str, int] = {"bank": 18101, "land": 18102, "vehicle": 18103, "payment": 18104, "lodging": 18105, "fund": 18106, "equity": 18107,
                              "court": 18112,
                             "airline": 18115, "railway": 18116, "securities": 18108}
# Connector workers' /metrics: one per kind, or one for a worker process running every kind.
CONNECTOR_METRICS: dict[str, int] = {"all": 18200, "bank": 18201, "land": 18202, "vehicle": 18203, "payment": 18204, "lodging": 18205,
                                   "fund": 18206, "equity": 18207, "court": 18212, "airline": 18215, "railway": 18216,
                                   "securities": 18208}
# The network's SFTP exchange for banks that poll for work, and its health endpoint.
EXCHANGE = 18300
EXCHANGE_HEALTH = 18301

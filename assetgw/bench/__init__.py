"""``assetgw bench`` and ``scripts/bench.py``: the benchmark harness.

Starts its own stack (broker or ``KAFKA_BOOTSTRAP``, simulators with latency 0, one connector
worker process per institution kind, gateway) in a temporary data directory and measures, in one
run on one broker, in this order:

1. ``latency``      ``POST /v1/inquiries`` to a complete report for one debtor, sequentially, with
   simulator latency 0 and with a realistic distribution; the gateway's overhead over the slowest
   institution (total minus the largest leg ``latency_ms``); first, while the broker is quiet;
2. ``raw_ceiling``  plain aiokafka produce-then-consume of leg-sized messages (acks=all, fresh
   topic), messages/s from the first send to the last message consumed;
3. ``bulk``         legs/s end to end for a bulk inquiry of N debtors over every institution
   (``POST /v1/inquiry-batches`` to batch ``completed``), and its ratio to the raw ceiling;
4. ``orders``       freezes/s end to end and per-order created→answered latency;
5. ``memory``       peak RSS of the gateway and connector workers during the bulk runs
   (``--memory-scale K`` adds a K-times larger bulk) and an honest extrapolation to 1,000,000 legs;
6. ``scale_out``    bulk throughput with one and with two connector worker processes per kind;
7. ``events``, 8. ``intake`` (see their modules).

It prints a table with the targets (pass/miss) and writes every figure as JSON. A benchmark, not
a test: nothing here asserts a number.

One module per concern: ``cli`` (the command line), ``context`` (Options, Ctx), ``common``
(constants, the console), ``stack`` (the bench's Stack, CPU and RSS sampling), ``stats``, one
module per phase (``raw``, ``bulk`` with scale-out, ``latency``, ``orders``, ``memory``, ``events``, ``intake``),
``report`` (targets, the table, the JSON) and ``run`` (the orchestration).
"""

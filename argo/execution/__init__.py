"""The execution hook (`argo run --auto-execute`): stored signals that clear the risk
checks go to a broker; fills are recorded with a `signal.executed` outbox event.

- `values`: orders, fills, trades, skip reasons.
- `broker`: the Broker protocol; `paper`: the shipped paper broker.
- `risk`: the limits, prop-firm presets and the risk book (pure).
- `executor`: the hook the generator calls every cycle.
- `options`: the `argo run` options that configure it.

Nothing is imported here, so that `argo.signals.store` can import `argo.trades`.
"""

"""Predictive delivery: wismo's own delivery estimate from the scan history (docs/prediction.md).

:mod:`projections.predict.model` holds the pure model (features, the versioned artefact, the
estimate); :mod:`projections.predict.training` the SQL that trains it over ClickHouse and the
scoring of a backtest. Neither does I/O.
"""

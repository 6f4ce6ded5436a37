"""The composition root: the `pantau` command, the assembly of the worker, the API and `pantau up`,
the embedded engines and the demo stream. It imports every other package; only the console script,
the tests and the benchmarks import it."""

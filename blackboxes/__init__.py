"""Benchmarks ("blackboxes", as syne-tune calls them): one package each, holding where its data
comes from, how it is imported and verified, and the evaluator that answers queries; pure search
spaces live in ``spaces/`` and strategies in ``strategies/``. ``blackboxes.registry`` lists them;
``blackboxes.training`` is the machinery the trained benchmarks share."""

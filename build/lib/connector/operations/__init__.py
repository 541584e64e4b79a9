"""Operations around the pipeline: admin use cases, reconciliation, IFS enrichment, overview
and progress."""
